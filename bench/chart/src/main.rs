//! `bench-chart RESULTS.md RESULTS.svg`: the results table bench/run writes, drawn as grouped
//! bars of queries per server core-second, one group per scenario, ferrodns's bar first and in
//! colour, each peer's beside it in grey. The baseline build and the "(AUTH, beside)" rows are
//! comparisons of ferrodns with itself and are left out.
//!
//! * [`parse`] reads the Markdown table's rows.
//! * [`draw`] lays them out and writes the SVG with plotters.

use std::process::ExitCode;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// One row of the results table.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// AUTH, NXDOMAIN, CACHE-MISS, ...
    pub scenario: String,
    /// ferrodns-auth, nsd, knot, dnsdist, ...
    pub server: String,
    /// Queries per server core-second (the median of the rounds).
    pub per_core: f64,
}

impl Row {
    fn is_ferrodns(&self) -> bool {
        self.server.starts_with("ferrodns")
    }
}

/// The rows of the first table whose header has `scenario`, `server` and `queries per server
/// core-second` columns, without the baseline's rows and the ones measured "beside" another
/// scenario.
pub fn parse(markdown: &str) -> Result<Vec<Row>, String> {
    let mut columns: Option<(usize, usize, usize)> = None;
    let mut rows = Vec::new();
    for line in markdown.lines() {
        let line = line.trim();
        if !line.starts_with('|') {
            if columns.is_some() && !rows.is_empty() {
                break;
            }
            continue;
        }
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        match columns {
            None => {
                let at = |name: &str| cells.iter().position(|c| *c == name);
                if let (Some(s), Some(v), Some(q)) =
                    (at("scenario"), at("server"), at("queries per server core-second"))
                {
                    columns = Some((s, v, q));
                }
            }
            Some((s, v, q)) => {
                if cells.iter().all(|c| c.chars().all(|ch| matches!(ch, '-' | ':'))) {
                    continue;
                }
                let (Some(scenario), Some(server), Some(value)) =
                    (cells.get(s), cells.get(v), cells.get(q))
                else {
                    return Err(format!("a row with too few cells: {line}"));
                };
                if server.starts_with("baseline") || server.contains("beside") {
                    continue;
                }
                let per_core = value
                    .parse::<f64>()
                    .map_err(|_| format!("not a number of queries per core-second: {value:?}"))?;
                rows.push(Row {
                    scenario: scenario.to_string(),
                    server: server.to_string(),
                    per_core,
                });
            }
        }
    }
    if rows.is_empty() {
        return Err("no results table (scenario | server | queries per server core-second)".into());
    }
    Ok(rows)
}

/// The scenarios in the order the table gives them, each with its rows, ferrodns's first.
fn groups(rows: &[Row]) -> Vec<(String, Vec<Row>)> {
    let mut groups: Vec<(String, Vec<Row>)> = Vec::new();
    for row in rows {
        match groups.iter_mut().find(|(s, _)| *s == row.scenario) {
            Some((_, members)) => members.push(row.clone()),
            None => groups.push((row.scenario.clone(), vec![row.clone()])),
        }
    }
    for (_, members) in &mut groups {
        members.sort_by_key(|r| !r.is_ferrodns());
    }
    groups
}

const WIDTH: u32 = 1200;
const HEIGHT: u32 = 520;
const FERRODNS: RGBColor = RGBColor(0xd3, 0x54, 0x00);
const PEER: RGBColor = RGBColor(0x9e, 0x9e, 0x9e);

/// Draws `rows` as an SVG document.
pub fn draw(rows: &[Row], title: &str) -> Result<String, String> {
    let groups = groups(rows);
    // Slots: one per bar, at least two per group (room for its name), and one empty between
    // groups.
    let width = |members: &[Row]| members.len().max(2);
    let slots = groups.iter().map(|(_, m)| width(m) + 1).sum::<usize>().max(2) as f64;
    let top = rows.iter().map(|r| r.per_core).fold(0.0, f64::max) / 1000.0 * 1.15;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        let fail = |e: &dyn std::fmt::Display| e.to_string();
        root.fill(&WHITE).map_err(|e| fail(&e))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(12)
            .margin_right(40)
            .x_label_area_size(48)
            .y_label_area_size(64)
            .build_cartesian_2d(0f64..slots, 0f64..top.max(1.0))
            .map_err(|e| fail(&e))?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .disable_x_axis()
            .y_desc("thousand queries per server core-second")
            .y_label_formatter(&|v| format!("{v:.0}"))
            .draw()
            .map_err(|e| fail(&e))?;
        let mut x = 0.5;
        for (n, (scenario, members)) in groups.iter().enumerate() {
            let start = x;
            let end = start + width(members) as f64;
            // Bars centred in their group's room.
            x += (width(members) - members.len()) as f64 / 2.0;
            for row in members {
                let color = if row.is_ferrodns() { FERRODNS } else { PEER };
                let value = row.per_core / 1000.0;
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(x, 0.0), (x + 0.8, value)],
                        color.filled(),
                    )))
                    .map_err(|e| fail(&e))?;
                let name = row
                    .server
                    .strip_prefix("ferrodns-")
                    .map_or(row.server.as_str(), |_| "ferrodns");
                let label = ("sans-serif", 11).into_font().transform(FontTransform::Rotate270);
                chart
                    .draw_series(std::iter::once(Text::new(
                        format!("{name} {value:.0}k"),
                        (x + 0.25, value + top * 0.01),
                        label,
                    )))
                    .map_err(|e| fail(&e))?;
                x += 1.0;
            }
            let middle = (start + end - 0.2) / 2.0;
            let font = ("sans-serif", 13).into_font().style(FontStyle::Bold);
            let style = TextStyle::from(font).pos(Pos::new(HPos::Center, VPos::Top));
            // Under the axis, in pixels (the chart clips what falls outside its range), every
            // other group's name a line lower so that long names never run together.
            let (px, py) = chart.backend_coord(&(middle, 0.0));
            let row = if n % 2 == 0 { 6 } else { 22 };
            root.draw(&Text::new(scenario.clone(), (px, py + row), style)).map_err(|e| fail(&e))?;
            x = end + 1.0;
        }
        root.present().map_err(|e| fail(&e))?;
    }
    Ok(svg)
}

fn run(args: &[String]) -> Result<(), String> {
    let [input, output] = args else {
        return Err("usage: bench-chart RESULTS.md RESULTS.svg".into());
    };
    let text = std::fs::read_to_string(input).map_err(|e| format!("{input}: {e}"))?;
    let rows = parse(&text).map_err(|e| format!("{input}: {e}"))?;
    let when = text
        .lines()
        .find_map(|l| l.strip_prefix("Run "))
        .and_then(|l| l.split(" on ").next())
        .unwrap_or("");
    let title = format!("bench/run {when}: queries per server core-second (ferrodns in colour)");
    let svg = draw(&rows, &title)?;
    std::fs::write(output, svg).map_err(|e| format!("{output}: {e}"))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench-chart: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "\
# Benchmark results

| scenario | server | QPS (median) | queries per server core-second | p50 ms |
| --- | --- | ---: | ---: | ---: |
| AUTH | ferrodns-auth | 458973 | 521118 | 0.015 |
| AUTH | baseline-auth | 454126 | 518581 | 0.015 |
| AUTH | nsd | 409794 | 447867 | 0.016 |
| CACHE-MISS | dnsdist | 160618 | 180720 | 0.031 |
| CACHE-MISS | ferrodns-cache | 68683 | 57624 | 0.049 |
| KUBE | ferrodns-auth (AUTH, beside) | 504648 | 574789 | 0.014 |

Answers:
| not | a | results | table |
";

    #[test]
    fn the_table_is_read_without_the_baseline_and_the_beside_rows() {
        let rows = parse(TABLE).unwrap();
        let names: Vec<(&str, &str)> =
            rows.iter().map(|r| (r.scenario.as_str(), r.server.as_str())).collect();
        assert_eq!(
            names,
            [
                ("AUTH", "ferrodns-auth"),
                ("AUTH", "nsd"),
                ("CACHE-MISS", "dnsdist"),
                ("CACHE-MISS", "ferrodns-cache")
            ]
        );
        assert_eq!(rows[3].per_core, 57624.0);
    }

    #[test]
    fn bad_tables_are_errors_not_panics() {
        assert!(parse("no table here").is_err());
        let bad = "| scenario | server | queries per server core-second |\n| --- | --- | --- |\n| AUTH | nsd | fast |\n";
        assert_eq!(parse(bad).unwrap_err(), "not a number of queries per core-second: \"fast\"");
        let short = "| scenario | server | queries per server core-second |\n| --- | --- | --- |\n| AUTH |\n";
        assert!(parse(short).unwrap_err().starts_with("a row with too few cells"));
    }

    #[test]
    fn every_row_is_a_bar_ferrodns_first_in_its_colour() {
        let rows = parse(TABLE).unwrap();
        let svg = draw(&rows, "test").unwrap();
        let colour = |c: RGBColor| format!("fill=\"#{:02X}{:02X}{:02X}\"", c.0, c.1, c.2);
        let bars = |c: RGBColor| {
            svg.lines().filter(|l| l.starts_with("<rect") && l.contains(&colour(c))).count()
        };
        assert_eq!(bars(FERRODNS), 2, "one ferrodns bar per scenario");
        assert_eq!(bars(PEER), 2, "one bar per peer");
        for label in
            ["AUTH", "CACHE-MISS", "ferrodns 521k", "nsd 448k", "dnsdist 181k", "ferrodns 58k"]
        {
            assert!(svg.contains(label), "{label} is written on the chart");
        }
        // In CACHE-MISS the table lists dnsdist first; ferrodns's bar still comes first.
        assert!(svg.find("ferrodns 58k").unwrap() < svg.find("dnsdist 181k").unwrap());
    }
}
