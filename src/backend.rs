//! Choosing a Burn backend by name at run time.
//!
//! Which backends exist is fixed when Spikeburn is compiled, by the features `ndarray` (the
//! default), `flex` and `wgpu`; which one a program uses is a [`Device`], picked here from a name
//! such as a `--device` flag.

use burn::tensor::Device;

/// Every backend name Spikeburn knows, compiled in or not.
pub const KNOWN: [&str; 3] = ["ndarray", "flex", "wgpu"];

/// The backends compiled into this build, in the order of [`KNOWN`].
pub const COMPILED: &[&str] = &[
    #[cfg(feature = "ndarray")]
    "ndarray",
    #[cfg(feature = "flex")]
    "flex",
    #[cfg(feature = "wgpu")]
    "wgpu",
];

/// Errors from [`device`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// The name is not one of [`KNOWN`].
    #[error(
        "unknown backend `{name}`, expected one of: {known}; this build has: {compiled}",
        known = KNOWN.join(", "),
        compiled = compiled_list()
    )]
    Unknown {
        /// The name given.
        name: String,
    },
    /// The name is known but its feature was not enabled when Spikeburn was built.
    #[error(
        "backend `{name}` is not compiled into this build (enable the cargo feature `{name}`); \
         this build has: {compiled}",
        compiled = compiled_list()
    )]
    NotCompiled {
        /// The name given.
        name: String,
    },
}

fn compiled_list() -> String {
    if COMPILED.is_empty() {
        "no backend (enable `ndarray`, `flex` or `wgpu`)".to_string()
    } else {
        COMPILED.join(", ")
    }
}

/// The device of the backend called `name`: `ndarray`, `flex` or `wgpu`.
///
/// The device is created without autodiff; call `.autodiff()` on it to train. `wgpu` picks the
/// default adapter (a software Vulkan driver such as llvmpipe where there is no GPU); the
/// adapter is opened lazily, so a machine without one fails at the first tensor operation.
///
/// ```
/// let device = spikeburn::device("ndarray").unwrap();
/// assert!(!device.is_autodiff());
///
/// let error = spikeburn::device("cuda").unwrap_err().to_string();
/// assert!(error.contains("unknown backend `cuda`"), "{error}");
/// ```
pub fn device(name: &str) -> Result<Device, BackendError> {
    let name = name.trim();
    if !KNOWN.contains(&name) {
        return Err(BackendError::Unknown {
            name: name.to_string(),
        });
    }

    match name {
        #[cfg(feature = "ndarray")]
        #[allow(deprecated)]
        // NdArray stays the default CPU backend until Flex is shown faster.
        "ndarray" => Ok(Device::ndarray()),
        #[cfg(feature = "flex")]
        "flex" => Ok(Device::flex()),
        #[cfg(feature = "wgpu")]
        "wgpu" => Ok(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice)),
        _ => Err(BackendError::NotCompiled {
            name: name.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_names_list_the_compiled_backends() {
        let message = device("tpu").unwrap_err().to_string();
        assert!(message.contains("`tpu`"), "{message}");
        for name in COMPILED {
            assert!(message.contains(name), "{message}");
        }
    }

    #[test]
    fn every_compiled_backend_opens() {
        for name in COMPILED {
            assert!(device(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn backends_left_out_of_the_build_are_named_as_such() {
        for name in KNOWN.iter().filter(|name| !COMPILED.contains(name)) {
            let message = device(name).unwrap_err().to_string();
            assert!(
                message.contains("not compiled into this build"),
                "{message}"
            );
            assert!(message.contains(&format!("`{name}`")), "{message}");
        }
    }
}
