//! Line plots of training curves saved as PNG, like the seed notes' `Animator`: a few named
//! series over epochs, axes with ticks, a legend. No plotting or font crate: the picture is
//! drawn into an RGB buffer with a built-in 5x7 pixel font and written as a PNG (zlib by
//! `flate2`, which the data module needs anyway), so a training example builds fast.
//!
//! ```
//! use stensor::plot::LinePlot;
//! let path = std::env::temp_dir().join(format!("stensor-plot-doc-{}.png", std::process::id()));
//! LinePlot::new("epoch")
//!     .series("train loss", &[(1.0, 0.9), (2.0, 0.6), (3.0, 0.5)])
//!     .series("test acc", &[(1.0, 0.6), (2.0, 0.7), (3.0, 0.75)])
//!     .save_png(&path, 480, 320)
//!     .unwrap();
//! assert_eq!(std::fs::read(&path).unwrap()[1..4], *b"PNG");
//! std::fs::remove_file(&path).unwrap();
//! ```

use std::path::Path;

/// Colours of the series, in order (matplotlib's first four, as the seed's plots).
const COLORS: [[u8; 3]; 6] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
];

/// A line plot of named series of `(x, y)` points.
///
/// ```
/// let plot = stensor::plot::LinePlot::new("epoch").series("loss", &[(1.0, 2.0)]);
/// assert_eq!(plot.len(), 1);
/// ```
#[derive(Clone, Debug, Default)]
pub struct LinePlot {
    x_label: String,
    series: Vec<(String, Vec<(f64, f64)>)>,
}

impl LinePlot {
    /// An empty plot whose x axis is called `x_label`.
    ///
    /// ```
    /// assert!(stensor::plot::LinePlot::new("epoch").is_empty());
    /// ```
    pub fn new(x_label: &str) -> Self {
        LinePlot {
            x_label: x_label.to_string(),
            series: vec![],
        }
    }

    /// Adds a series (a polyline through `points` with a dot at each, in the next colour).
    ///
    /// ```
    /// let p = stensor::plot::LinePlot::new("x").series("a", &[(0.0, 1.0), (1.0, 3.0)]);
    /// assert_eq!(p.len(), 1);
    /// ```
    pub fn series(mut self, name: &str, points: &[(f64, f64)]) -> Self {
        self.series.push((name.to_string(), points.to_vec()));
        self
    }

    /// The number of series.
    ///
    /// ```
    /// assert_eq!(stensor::plot::LinePlot::new("x").len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.series.len()
    }

    /// Whether there are no series.
    ///
    /// ```
    /// assert!(stensor::plot::LinePlot::new("x").is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// The picture as `width x height` RGB pixels, row-major.
    ///
    /// ```
    /// let rgb = stensor::plot::LinePlot::new("x").series("a", &[(0.0, 0.0), (1.0, 1.0)]).render(200, 100);
    /// assert_eq!(rgb.len(), 200 * 100 * 3);
    /// assert!(rgb.chunks(3).any(|p| p == [31, 119, 180])); // the first series' colour
    /// ```
    pub fn render(&self, width: usize, height: usize) -> Vec<u8> {
        let mut c = Canvas {
            w: width,
            h: height,
            px: vec![255; width * height * 3],
        };
        // plot area: left, right, top, bottom
        let area = (
            60.min(width / 3),
            width.saturating_sub(12),
            12.min(height / 4),
            height.saturating_sub(44.min(height / 3)),
        );
        let (l, r, t, b) = area;
        if r <= l + 1 || b <= t + 1 {
            return c.px;
        }
        let (x0, x1, y0, y1) = self.bounds();
        let (xt, x0, x1) = ticks(x0, x1);
        let (yt, y0, y1) = ticks(y0, y1);
        let sx = |x: f64| l as f64 + (x - x0) / (x1 - x0) * (r - l) as f64;
        let sy = |y: f64| b as f64 - (y - y0) / (y1 - y0) * (b - t) as f64;
        self.axes(&mut c, area, (&xt, &sx), (&yt, &sy));
        for (k, (_, p)) in self.series.iter().enumerate() {
            let color = COLORS[k % COLORS.len()];
            let p: Vec<(f64, f64)> = p
                .iter()
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .map(|&(x, y)| (sx(x), sy(y)))
                .collect();
            for w in p.windows(2) {
                c.line(w[0].0, w[0].1, w[1].0, w[1].1, color, 2);
            }
            for &(x, y) in &p {
                c.dot(x, y, color);
            }
        }
        self.legend(&mut c, r, t);
        c.px
    }

    /// The range of the finite points, `(x0, x1, y0, y1)`; the unit square when there are none.
    fn bounds(&self) -> (f64, f64, f64, f64) {
        let pts = self.series.iter().flat_map(|(_, p)| p.iter());
        let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for &(x, y) in pts.filter(|(x, y)| x.is_finite() && y.is_finite()) {
            (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
        }
        if x0 > x1 {
            (0.0, 1.0, 0.0, 1.0)
        } else {
            (x0, x1, y0, y1)
        }
    }

    /// The grid, the tick labels, the frame of the plot `area` and the x label; each axis as
    /// its ticks and the map from data to pixels.
    fn axes(
        &self,
        c: &mut Canvas,
        (l, r, t, b): (usize, usize, usize, usize),
        (xt, sx): (&[f64], &dyn Fn(f64) -> f64),
        (yt, sy): (&[f64], &dyn Fn(f64) -> f64),
    ) {
        let grid = [225, 225, 225];
        for &x in xt {
            let px = sx(x).round() as usize;
            c.line(px as f64, t as f64, px as f64, b as f64, grid, 1);
            let s = fmt_tick(x, xt);
            c.text(px.saturating_sub(text_width(&s) / 2), b + 6, &s, INK);
        }
        for &y in yt {
            let py = sy(y).round() as usize;
            c.line(l as f64, py as f64, r as f64, py as f64, grid, 1);
            let s = fmt_tick(y, yt);
            let x = l.saturating_sub(text_width(&s) + 6);
            c.text(x, py.saturating_sub(7), &s, INK);
        }
        c.rect(l, t, r, b, INK);
        let xl = self.x_label.as_str();
        let x = (l + r) / 2 - text_width(xl).min((l + r) / 2) / 2;
        c.text(x, b + 26, xl, INK);
    }

    /// The series' names and colours, top right inside the plot area (right edge `r`, top `t`).
    fn legend(&self, c: &mut Canvas, r: usize, t: usize) {
        let names = self.series.iter().map(|(n, _)| text_width(n));
        let lw = names.max().unwrap_or(0) + 40;
        let (lx, ly) = (r.saturating_sub(lw + 8), t + 8);
        for (k, (name, _)) in self.series.iter().enumerate() {
            let y = ly + 8 + k * 20;
            let color = COLORS[k % COLORS.len()];
            c.line(lx as f64, y as f64, (lx + 24) as f64, y as f64, color, 2);
            c.text(lx + 32, y.saturating_sub(7), name, INK);
        }
    }

    /// Renders the plot and writes it to `path` as an 8-bit RGB PNG, atomically (a temporary
    /// file renamed over `path`). An error names the file.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("stensor-plot-save-{}.png", std::process::id()));
    /// stensor::plot::LinePlot::new("epoch").series("acc", &[(1.0, 0.5), (2.0, 0.7)]).save_png(&path, 320, 240).unwrap();
    /// assert!(stensor::plot::LinePlot::new("x").save_png("/no/such/dir/p.png", 10, 10).unwrap_err().to_string().starts_with("/no/such/dir/p.png: "));
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn save_png(
        &self,
        path: impl AsRef<Path>,
        width: usize,
        height: usize,
    ) -> std::io::Result<()> {
        let path = path.as_ref();
        let png = crate::io::png::encode_png(&self.render(width, height), width, height, 3);
        crate::io::write_atomic(path, &png)
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))
    }
}

/// About five round tick values covering `[lo, hi]`, and the axis range they span.
fn ticks(lo: f64, hi: f64) -> (Vec<f64>, f64, f64) {
    let (lo, hi) = if hi - lo < 1e-12 {
        (lo - 0.5, hi + 0.5)
    } else {
        (lo, hi)
    };
    let raw = (hi - lo) / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let (a, b) = ((lo / step).floor() * step, (hi / step).ceil() * step);
    let n = ((b - a) / step).round() as usize;
    ((0..=n).map(|i| a + i as f64 * step).collect(), a, b)
}

/// A tick label with as many decimals as the tick spacing needs.
fn fmt_tick(v: f64, all: &[f64]) -> String {
    let step = if all.len() > 1 { all[1] - all[0] } else { 1.0 };
    let mut decimals = (-step.log10().floor()).max(0.0) as usize;
    while decimals < 6 {
        let scaled = step * 10f64.powi(decimals as i32);
        if (scaled - scaled.round()).abs() < 1e-6 {
            break;
        }
        decimals += 1;
    }
    format!("{v:.decimals$}")
}

struct Canvas {
    w: usize,
    h: usize,
    px: Vec<u8>,
}

impl Canvas {
    fn set(&mut self, x: i64, y: i64, c: [u8; 3]) {
        if x >= 0 && y >= 0 && (x as usize) < self.w && (y as usize) < self.h {
            let i = (y as usize * self.w + x as usize) * 3;
            self.px[i..i + 3].copy_from_slice(&c);
        }
    }

    /// A line of `thick` pixels (1 or 2), by steps of at most one pixel along the longer axis.
    fn line(&mut self, x0: f64, y0: f64, x1: f64, y1: f64, c: [u8; 3], thick: i64) {
        let n = (x1 - x0).abs().max((y1 - y0).abs()).ceil().max(1.0) as usize;
        for i in 0..=n {
            let f = i as f64 / n as f64;
            let (x, y) = (
                (x0 + f * (x1 - x0)).round() as i64,
                (y0 + f * (y1 - y0)).round() as i64,
            );
            for d in 0..thick {
                self.set(x, y + d, c);
                self.set(x + d, y, c);
            }
        }
    }

    fn dot(&mut self, x: f64, y: f64, c: [u8; 3]) {
        let (x, y) = (x.round() as i64, y.round() as i64);
        for dy in -3..=3i64 {
            for dx in -3..=3i64 {
                if dx * dx + dy * dy <= 9 {
                    self.set(x + dx, y + dy, c);
                }
            }
        }
    }

    fn rect(&mut self, l: usize, t: usize, r: usize, b: usize, c: [u8; 3]) {
        let (l, t, r, b) = (l as f64, t as f64, r as f64, b as f64);
        self.line(l, t, r, t, c, 1);
        self.line(l, b, r, b, c, 1);
        self.line(l, t, l, b, c, 1);
        self.line(r, t, r, b, c, 1);
    }

    /// Text in the built-in font at twice its size (10x14 pixels a character, 2 apart).
    fn text(&mut self, x: usize, y: usize, s: &str, c: [u8; 3]) {
        for (k, ch) in s.chars().enumerate() {
            let g = glyph(ch);
            for (row, bits) in g.iter().enumerate() {
                for col in 0..5 {
                    if bits >> (4 - col) & 1 == 1 {
                        let (px, py) = ((x + k * 12 + col * 2) as i64, (y + row * 2) as i64);
                        for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                            self.set(px + dx, py + dy, c);
                        }
                    }
                }
            }
        }
    }
}

fn text_width(s: &str) -> usize {
    s.chars().count() * 12
}

/// The colour of text and frame.
const INK: [u8; 3] = [40, 40, 40];

/// The 5x7 glyphs: a character (small letters for capitals) and its rows, `#` inked.
#[rustfmt::skip]
const GLYPHS: &[(char, [&str; 7])] = &[
    (' ', [".....", ".....", ".....", ".....", ".....", ".....", "....."]),
    ('0', [".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."]),
    ('1', ["..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."]),
    ('2', [".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"]),
    ('3', ["#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###."]),
    ('4', ["...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."]),
    ('5', ["#####", "#....", "####.", "....#", "....#", "#...#", ".###."]),
    ('6', ["..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."]),
    ('7', ["#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."]),
    ('8', [".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."]),
    ('9', [".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."]),
    ('.', [".....", ".....", ".....", ".....", ".....", ".##..", ".##.."]),
    (',', [".....", ".....", ".....", ".....", ".##..", "..#..", ".#..."]),
    ('-', [".....", ".....", ".....", "#####", ".....", ".....", "....."]),
    ('_', [".....", ".....", ".....", ".....", ".....", ".....", "#####"]),
    (':', [".....", ".##..", ".##..", ".....", ".##..", ".##..", "....."]),
    ('/', [".....", "....#", "...#.", "..#..", ".#...", "#....", "....."]),
    ('(', ["...#.", "..#..", ".#...", ".#...", ".#...", "..#..", "...#."]),
    (')', [".#...", "..#..", "...#.", "...#.", "...#.", "..#..", ".#..."]),
    ('%', ["##...", "##..#", "...#.", "..#..", ".#...", "#..##", "...##"]),
    ('=', [".....", ".....", "#####", ".....", "#####", ".....", "....."]),
    ('a', [".....", ".....", ".###.", "....#", ".####", "#...#", ".####"]),
    ('b', ["#....", "#....", "#.##.", "##..#", "#...#", "#...#", "####."]),
    ('c', [".....", ".....", ".###.", "#....", "#....", "#...#", ".###."]),
    ('d', ["....#", "....#", ".##.#", "#..##", "#...#", "#...#", ".####"]),
    ('e', [".....", ".....", ".###.", "#...#", "#####", "#....", ".###."]),
    ('f', ["..##.", ".#..#", ".#...", "###..", ".#...", ".#...", ".#..."]),
    ('g', [".....", ".####", "#...#", "#...#", ".####", "....#", ".###."]),
    ('h', ["#....", "#....", "#.##.", "##..#", "#...#", "#...#", "#...#"]),
    ('i', ["..#..", ".....", ".##..", "..#..", "..#..", "..#..", ".###."]),
    ('j', ["...#.", ".....", "..##.", "...#.", "...#.", "#..#.", ".##.."]),
    ('k', ["#....", "#....", "#..#.", "#.#..", "##...", "#.#..", "#..#."]),
    ('l', [".##..", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."]),
    ('m', [".....", ".....", "##.#.", "#.#.#", "#.#.#", "#...#", "#...#"]),
    ('n', [".....", ".....", "#.##.", "##..#", "#...#", "#...#", "#...#"]),
    ('o', [".....", ".....", ".###.", "#...#", "#...#", "#...#", ".###."]),
    ('p', [".....", ".....", "####.", "#...#", "####.", "#....", "#...."]),
    ('q', [".....", ".....", ".##.#", "#..##", ".####", "....#", "....#"]),
    ('r', [".....", ".....", "#.##.", "##..#", "#....", "#....", "#...."]),
    ('s', [".....", ".....", ".###.", "#....", ".###.", "....#", "####."]),
    ('t', [".#...", ".#...", "###..", ".#...", ".#...", ".#..#", "..##."]),
    ('u', [".....", ".....", "#...#", "#...#", "#...#", "#..##", ".##.#"]),
    ('v', [".....", ".....", "#...#", "#...#", "#...#", ".#.#.", "..#.."]),
    ('w', [".....", ".....", "#...#", "#...#", "#.#.#", "#.#.#", ".#.#."]),
    ('x', [".....", ".....", "#...#", ".#.#.", "..#..", ".#.#.", "#...#"]),
    ('y', [".....", ".....", "#...#", "#...#", ".####", "....#", ".###."]),
    ('z', [".....", ".....", "#####", "...#.", "..#..", ".#...", "#####"]),
];

/// What a character without a glyph is drawn as.
const BOX: [&str; 7] = [
    "#####", "#...#", "#...#", "#...#", "#...#", "#...#", "#####",
];

/// The 5x7 glyph of `ch` (one byte per row, the low five bits left to right); capitals are
/// drawn as small letters, anything unknown as a box.
fn glyph(ch: char) -> [u8; 7] {
    let lower = ch.to_ascii_lowercase();
    let rows = GLYPHS
        .iter()
        .find(|(c, _)| *c == lower)
        .map_or(BOX, |(_, rows)| *rows);
    rows.map(|r| {
        r.bytes()
            .fold(0u8, |acc, b| (acc << 1) | u8::from(b == b'#'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        let (t, lo, hi) = ticks(0.31, 0.87);
        assert_eq!((lo, hi), (t[0], *t.last().unwrap()));
        assert!(lo <= 0.31 && hi >= 0.87 && t.len() <= 8);
        assert_eq!(fmt_tick(0.4, &t), "0.4");
        let (t, _, _) = ticks(1.0, 10.0);
        assert_eq!(fmt_tick(t[1], &t), "2");
        // a flat series still gets an axis
        assert!(ticks(3.0, 3.0).0.len() >= 2);
    }

    #[test]
    fn every_glyph_the_plots_use_is_drawn() {
        for ch in "0123456789.-abcdefghijklmnopqrstuvwxyz".chars() {
            assert_ne!(glyph(ch), glyph('\u{1}'), "{ch}");
        }
    }
}
