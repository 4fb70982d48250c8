//! PNG figures for the examples, drawn with plotters.
//!
//! Text is drawn from a TrueType font read at run time (`SPIKEBURN_FONT`, or DejaVu Sans and a
//! few other common system fonts), so that building needs no system font library. Without a
//! font a figure is refused with an error that says how to provide one; the examples then
//! report it and still write their tables.

use std::path::Path;
use std::sync::OnceLock;

use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

/// Where fonts are looked for, after `SPIKEBURN_FONT`.
const FONT_PATHS: [&str; 6] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
    "C:\\Windows\\Fonts\\arial.ttf",
];

/// Registers a font as `sans-serif` once per process.
fn ensure_font() -> Result<(), String> {
    static FONT: OnceLock<Result<(), String>> = OnceLock::new();
    FONT.get_or_init(|| {
        let chosen = std::env::var("SPIKEBURN_FONT").ok();
        let candidates = chosen.iter().map(String::as_str).chain(FONT_PATHS);
        for path in candidates {
            if let Ok(bytes) = std::fs::read(path) {
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                return register_font("sans-serif", FontStyle::Normal, bytes)
                    .map_err(|_| format!("`{path}` is not a TrueType font"));
            }
        }
        Err(
            "no TrueType font found for figure labels: set SPIKEBURN_FONT to a .ttf file, or \
             install one (Debian: `apt-get install fonts-dejavu-core`)"
                .to_string(),
        )
    })
    .clone()
}

/// One line of a [`LineChart`], with an optional error bar (a half width) per point.
#[derive(Debug, Clone)]
pub struct Series {
    /// The legend entry.
    pub name: String,
    /// `(x, y)` points, drawn in order.
    pub points: Vec<(f64, f64)>,
    /// Half widths of error bars, one per point.
    pub errors: Option<Vec<f64>>,
    /// Draw the line dashed (e.g. a prediction next to measurements).
    pub dashed: bool,
}

impl Series {
    /// A solid line without error bars.
    pub fn new(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Series {
            name: name.into(),
            points,
            errors: None,
            dashed: false,
        }
    }
}

/// A chart of several lines against a shared x axis.
#[derive(Debug, Clone)]
pub struct LineChart {
    /// The title above the plot.
    pub title: String,
    /// The x axis label.
    pub x_label: String,
    /// The y axis label.
    pub y_label: String,
    /// Logarithmic x axis.
    pub log_x: bool,
    /// The y range; `None` fits the data.
    pub y_range: Option<(f64, f64)>,
    /// The lines.
    pub series: Vec<Series>,
}

fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (low, high) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if low > high {
        (0.0, 1.0)
    } else if low == high {
        (low - 0.5, high + 0.5)
    } else {
        (low, high)
    }
}

/// Writes `chart` as an 900 x 600 PNG at `path`.
pub fn line_chart(path: &Path, chart: &LineChart) -> Result<(), String> {
    ensure_font()?;
    let failed = |error: &dyn std::fmt::Display| format!("{}: {error}", path.display());

    let (x_low, x_high) = bounds(
        chart
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0)),
    );
    let (y_low, y_high) = chart.y_range.unwrap_or_else(|| {
        let (low, high) = bounds(
            chart
                .series
                .iter()
                .flat_map(|s| s.points.iter().map(|p| p.1)),
        );
        let margin = 0.05 * (high - low);
        (low - margin, high + margin)
    });

    let root = BitMapBackend::new(path, (900, 600)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| failed(&e))?;
    let mut builder = ChartBuilder::on(&root);
    builder
        .caption(&chart.title, ("sans-serif", 24))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(64);

    if chart.log_x {
        let mut plot = builder
            .build_cartesian_2d((x_low..x_high).log_scale(), y_low..y_high)
            .map_err(|e| failed(&e))?;
        plot.configure_mesh()
            .x_desc(&chart.x_label)
            .y_desc(&chart.y_label)
            .x_label_formatter(&|x| tick(*x))
            .label_style(("sans-serif", 16))
            .draw()
            .map_err(|e| failed(&e))?;
        draw_series(&mut plot, &chart.series).map_err(|e| failed(&e))?;
    } else {
        let mut plot = builder
            .build_cartesian_2d(x_low..x_high, y_low..y_high)
            .map_err(|e| failed(&e))?;
        plot.configure_mesh()
            .x_desc(&chart.x_label)
            .y_desc(&chart.y_label)
            .label_style(("sans-serif", 16))
            .draw()
            .map_err(|e| failed(&e))?;
        draw_series(&mut plot, &chart.series).map_err(|e| failed(&e))?;
    }

    root.present().map_err(|e| failed(&e))
}

/// A tick label with at most three significant digits and no trailing zeros.
fn tick(value: f64) -> String {
    let digits = if value == 0.0 {
        0
    } else {
        (2 - value.abs().log10().floor() as i32).max(0) as usize
    };
    let text = format!("{value:.digits$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

type Plot<'a, X> =
    ChartContext<'a, BitMapBackend<'a>, Cartesian2d<X, plotters::coord::types::RangedCoordf64>>;

fn draw_series<'a, X>(
    plot: &mut Plot<'a, X>,
    series: &[Series],
) -> Result<(), DrawingAreaErrorKind<<BitMapBackend<'a> as DrawingBackend>::ErrorType>>
where
    X: Ranged<ValueType = f64>,
{
    for (index, line) in series.iter().enumerate() {
        let color = Palette99::pick(index).to_rgba();
        let style = ShapeStyle::from(&color).stroke_width(2);
        if line.dashed {
            plot.draw_series(DashedLineSeries::new(
                line.points.iter().copied(),
                8,
                6,
                style,
            ))?
            .label(&line.name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
        } else {
            plot.draw_series(LineSeries::new(line.points.iter().copied(), style))?
                .label(&line.name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
        }
        plot.draw_series(
            line.points
                .iter()
                .map(|&point| Circle::new(point, 3, color.filled())),
        )?;
        if let Some(errors) = &line.errors {
            plot.draw_series(line.points.iter().zip(errors).map(|(&(x, y), &half)| {
                PathElement::new(vec![(x, y - half), (x, y + half)], style)
            }))?;
        }
    }
    plot.configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 16))
        .position(SeriesLabelPosition::LowerRight)
        .draw()
}

/// A spike raster: panels of `(step, neuron)` events over a shared time axis.
#[derive(Debug, Clone)]
pub struct Raster {
    /// The title above the panels.
    pub title: String,
    /// The number of steps.
    pub time: usize,
    /// `(name, events)` per panel, top to bottom.
    pub panels: Vec<(String, Vec<(usize, usize)>)>,
}

/// Writes `raster` as a PNG at `path`, one panel per population, 900 pixels wide.
pub fn raster(path: &Path, raster: &Raster) -> Result<(), String> {
    ensure_font()?;
    let failed = |error: &dyn std::fmt::Display| format!("{}: {error}", path.display());
    let height = 80 + 260 * raster.panels.len().max(1) as u32;

    let root = BitMapBackend::new(path, (900, height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| failed(&e))?;
    let root = root
        .titled(&raster.title, ("sans-serif", 24))
        .map_err(|e| failed(&e))?;
    let areas = root.split_evenly((raster.panels.len().max(1), 1));
    for (area, (name, events)) in areas.iter().zip(&raster.panels) {
        let neurons = events.iter().map(|e| e.1 + 1).max().unwrap_or(1);
        let mut plot = ChartBuilder::on(area)
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(0.0..raster.time as f64, 0.0..neurons as f64)
            .map_err(|e| failed(&e))?;
        plot.configure_mesh()
            .x_desc("step")
            .y_desc(name.as_str())
            .label_style(("sans-serif", 16))
            .disable_mesh()
            .draw()
            .map_err(|e| failed(&e))?;
        let dots = events.iter().map(|&(step, neuron)| {
            Circle::new((step as f64 + 0.5, neuron as f64 + 0.5), 2, BLACK.filled())
        });
        plot.draw_series(dots).map_err(|e| failed(&e))?;
    }

    root.present().map_err(|e| failed(&e))
}

/// A grid of numbers drawn as coloured cells with their values written in.
#[derive(Debug, Clone)]
pub struct Heatmap {
    /// The title above the grid; a second line is written smaller.
    pub title: String,
    /// What the rows are (written left of their names).
    pub row_label: String,
    /// What the columns are (written under their names).
    pub column_label: String,
    /// One name per row, top to bottom.
    pub rows: Vec<String>,
    /// One name per column, left to right.
    pub columns: Vec<String>,
    /// `values[row][column]`; `None` leaves a cell grey.
    pub values: Vec<Vec<Option<f64>>>,
    /// The values mapped to the two ends of the colour scale.
    pub range: (f64, f64),
    /// Decimals written in each cell.
    pub decimals: usize,
}

/// Writes `heatmap` as a PNG at `path`: light yellow (low) to dark blue (high).
pub fn heatmap(path: &Path, heatmap: &Heatmap) -> Result<(), String> {
    ensure_font()?;
    let failed = |error: &dyn std::fmt::Display| format!("{}: {error}", path.display());
    let (rows, columns) = (heatmap.rows.len().max(1), heatmap.columns.len().max(1));
    let (cell_w, cell_h) = (84_i32, 44_i32);
    let (left, top) = (200_i32, 84_i32);
    let width = (left + cell_w * columns as i32 + 40) as u32;
    let height = (top + cell_h * rows as i32 + 90) as u32;

    let root = BitMapBackend::new(path, (width, height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| failed(&e))?;
    let text = |size: i32| ("sans-serif", size).into_font();
    for (line, title) in heatmap.title.lines().enumerate() {
        let size = if line == 0 { 22 } else { 16 };
        let at = (16, 12 + 28 * line as i32);
        root.draw(&Text::new(title.to_string(), at, text(size)))
            .map_err(|e| failed(&e))?;
    }

    let (low, high) = heatmap.range;
    let colour = |value: f64| {
        let t = ((value - low) / (high - low)).clamp(0.0, 1.0);
        // From (255, 247, 188) to (8, 48, 107), linearly.
        let mix = |a: f64, b: f64| (a + t * (b - a)).round() as u8;
        (
            RGBColor(mix(255.0, 8.0), mix(247.0, 48.0), mix(188.0, 107.0)),
            t > 0.55,
        )
    };
    for (r, row) in heatmap.values.iter().enumerate() {
        let y = top + r as i32 * cell_h;
        let name = heatmap.rows.get(r).cloned().unwrap_or_default();
        root.draw(&Text::new(name, (12, y + cell_h / 2 - 8), text(16)))
            .map_err(|e| failed(&e))?;
        for (c, value) in row.iter().enumerate() {
            let x = left + c as i32 * cell_w;
            let (fill, dark) = value.map_or((RGBColor(210, 210, 210), false), colour);
            let corners = [(x, y), (x + cell_w - 2, y + cell_h - 2)];
            root.draw(&Rectangle::new(corners, fill.filled()))
                .map_err(|e| failed(&e))?;
            if let Some(value) = value {
                let label = format!("{value:.*}", heatmap.decimals);
                let ink = if dark { WHITE } else { BLACK };
                let style = text(15).color(&ink);
                root.draw(&Text::new(label, (x + 10, y + cell_h / 2 - 8), style))
                    .map_err(|e| failed(&e))?;
            }
        }
    }
    let bottom = top + rows as i32 * cell_h;
    for (c, name) in heatmap.columns.iter().enumerate() {
        let x = left + c as i32 * cell_w;
        root.draw(&Text::new(name.clone(), (x + 4, bottom + 6), text(14)))
            .map_err(|e| failed(&e))?;
    }
    let footer = format!(
        "{} (rows) x {} (columns)",
        heatmap.row_label, heatmap.column_label
    );
    root.draw(&Text::new(footer, (left, bottom + 40), text(16)))
        .map_err(|e| failed(&e))?;

    root.present().map_err(|e| failed(&e))
}
