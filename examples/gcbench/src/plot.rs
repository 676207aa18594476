//! SVG charts of a gcbench run (plotters' SVG backend: no fonts or system
//! libraries needed). One file per workload and chart kind; each draws the
//! first repetition of every backend that has the data.

use std::collections::BTreeMap;
use std::path::Path;

use plotters::prelude::*;

use crate::metrics::MMU_WINDOWS_MS;
use crate::run::RunResult;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn color(i: usize) -> RGBColor {
    const C: [RGBColor; 9] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
        RGBColor(188, 189, 34),
    ];
    C[i % C.len()]
}

/// Writes every chart; returns how many files were written.
pub fn write_all(dir: &Path, results: &[RunResult]) -> Res<usize> {
    std::fs::create_dir_all(dir)?;
    let mut by_workload: BTreeMap<&str, Vec<&RunResult>> = BTreeMap::new();
    for r in results.iter().filter(|r| r.rep == 0 && r.error.is_none()) {
        by_workload.entry(r.workload.name()).or_default().push(r);
    }
    let mut n = 0;
    for (w, runs) in by_workload {
        n += usize::from(pause_histogram(
            &dir.join(format!("pauses-{w}.svg")),
            w,
            &runs,
        )?);
        n += usize::from(mmu_curves(&dir.join(format!("mmu-{w}.svg")), w, &runs)?);
        n += usize::from(heap_over_time(
            &dir.join(format!("heap-{w}.svg")),
            w,
            &runs,
        )?);
    }
    Ok(n)
}

/// Pause counts in power-of-two microsecond buckets, one line per backend.
fn pause_histogram(path: &Path, w: &str, runs: &[&RunResult]) -> Res<bool> {
    let series: Vec<(&str, Vec<u64>)> = runs
        .iter()
        .filter(|r| r.pauses.is_some())
        .filter_map(|r| {
            let t = r.timeline.as_ref()?;
            let mut buckets = vec![0u64; 24];
            for &(_, us) in &t.pauses {
                let b = (us.max(1.0).log2().floor() as usize).min(23);
                buckets[b] += 1;
            }
            Some((r.backend.as_str(), buckets))
        })
        .collect();
    if series.is_empty() {
        return Ok(false);
    }
    let ymax = series
        .iter()
        .flat_map(|s| s.1.iter())
        .copied()
        .max()
        .unwrap_or(1)
        .max(1);
    let root = SVGBackend::new(path, (900, 500)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("{w}: GC pause histogram"), ("sans-serif", 20))
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0u32..24u32, (1u64..ymax * 2).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("pause (log2 us: 10 = 1 ms, 20 = 1 s)")
        .y_desc("pauses")
        .draw()?;
    for (i, (name, b)) in series.iter().enumerate() {
        let c = color(i);
        chart
            .draw_series(LineSeries::new(
                b.iter()
                    .enumerate()
                    .filter(|(_, n)| **n > 0)
                    .map(|(x, &n)| (x as u32, n)),
                c.stroke_width(2),
            ))?
            .label(*name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(true)
}

/// MMU against window length, one curve per backend.
fn mmu_curves(path: &Path, w: &str, runs: &[&RunResult]) -> Res<bool> {
    let series: Vec<(&str, Vec<(f64, f64)>)> = runs
        .iter()
        .filter_map(|r| {
            let m = r.mmu?;
            let pts: Vec<(f64, f64)> = MMU_WINDOWS_MS
                .iter()
                .zip(m.values())
                .filter_map(|(&w, v)| Some((w as f64, v?)))
                .collect();
            (!pts.is_empty()).then_some((r.backend.as_str(), pts))
        })
        .collect();
    if series.is_empty() {
        return Ok(false);
    }
    let root = SVGBackend::new(path, (900, 500)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("{w}: minimum mutator utilisation"),
            ("sans-serif", 20),
        )
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d((1f64..100f64).log_scale(), 0f64..1.0f64)?;
    chart
        .configure_mesh()
        .x_desc("window (ms)")
        .y_desc("MMU")
        .draw()?;
    for (i, (name, pts)) in series.iter().enumerate() {
        let c = color(i);
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(2)))?
            .label(*name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(true)
}

/// Resident set size over time, one line per backend.
fn heap_over_time(path: &Path, w: &str, runs: &[&RunResult]) -> Res<bool> {
    let series: Vec<(&str, &Vec<(f64, u64)>)> = runs
        .iter()
        .filter_map(|r| Some((r.backend.as_str(), &r.timeline.as_ref()?.rss)))
        .filter(|(_, s)| s.len() > 1)
        .collect();
    if series.is_empty() {
        return Ok(false);
    }
    let tmax = series
        .iter()
        .flat_map(|s| s.1.iter())
        .map(|p| p.0)
        .fold(0.0, f64::max)
        .max(1e-3);
    let ymax = series
        .iter()
        .flat_map(|s| s.1.iter())
        .map(|p| p.1)
        .max()
        .unwrap_or(1) as f64
        / 1048576.0;
    let root = SVGBackend::new(path, (900, 500)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("{w}: resident memory over time"),
            ("sans-serif", 20),
        )
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..tmax, 0f64..ymax * 1.05)?;
    chart
        .configure_mesh()
        .x_desc("time (s)")
        .y_desc("RSS (MiB)")
        .draw()?;
    for (i, (name, pts)) in series.iter().enumerate() {
        let c = color(i);
        chart
            .draw_series(LineSeries::new(
                pts.iter().map(|&(t, b)| (t, b as f64 / 1048576.0)),
                c.stroke_width(2),
            ))?
            .label(*name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(true)
}
