//! The figures of a run and the table they make: per shape, each Compose setting and
//! each kaspire way, median over the rounds, kaspire's ratio to every Compose row.

use std::collections::HashMap;

use crate::common::{Samples, Table};
use crate::compose;
use crate::graph::{Shape, count};

/// One timed quantity of a shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Series {
    /// The bench driving the Engine itself: apply -> all ready.
    Floor,
    /// docker-compose, by settings name: exec -> all healthy.
    Compose(&'static str),
    /// docker-compose, by settings name: exec -> `up -d` returned.
    ComposeUpReturned(&'static str),
    /// kaspire serve: first create -> last Ready seen.
    KaspireServe,
    /// `kaspire up --detach --wait`: exec -> exit.
    KaspireUp,
}

#[derive(Default)]
pub struct Figures(HashMap<(&'static str, Series), Vec<f64>>);

impl Figures {
    pub fn push(&mut self, shape: Shape, series: Series, ms: f64) {
        self.0.entry((shape.name(), series)).or_default().push(ms);
    }

    fn samples(&self, shape: Shape, series: Series) -> Option<Samples> {
        self.0
            .get(&(shape.name(), series))
            .filter(|v| !v.is_empty())
            .map(|v| Samples::new(v.clone()))
    }
}

fn seconds(ms: f64) -> String {
    if ms >= 10_000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else {
        format!("{ms:.0} ms")
    }
}

fn spread(s: &Samples) -> String {
    if s.len() > 1 {
        format!("n={}, {}–{}", s.len(), seconds(s.min()), seconds(s.max()))
    } else {
        format!("n={}", s.len())
    }
}

pub fn fill(table: &mut Table, shapes: &[Shape], figures: &Figures) {
    let settings = [compose::DEFAULT, compose::INTERVAL_100MS, compose::MINIMUM];
    for &shape in shapes {
        let section = match shape {
            Shape::Chain => format!(
                "chain: {} containers, each waits for its predecessor healthy",
                count()
            ),
            Shape::FanOut => format!(
                "fan-out: 1 root container, {} wait for it healthy",
                count() - 1
            ),
        };
        let floor = figures.samples(shape, Series::Floor);
        if let Some(samples) = &floor {
            table
                .row(
                    &section,
                    "the Engine's floor: create all, then start + exec check back to back (bench itself)",
                    seconds(samples.median()),
                )
                .reference(match shape {
                    Shape::Chain => format!(
                        "{}; {} per link",
                        spread(samples),
                        seconds(samples.median() / count() as f64)
                    ),
                    Shape::FanOut => spread(samples),
                });
        }
        let mut compose_medians = Vec::new();
        for s in settings {
            let Some(samples) = figures.samples(shape, Series::Compose(s.name)) else {
                continue;
            };
            let median = samples.median();
            compose_medians.push((s.name, median));
            let returned = figures
                .samples(shape, Series::ComposeUpReturned(s.name))
                .map(|r| format!("; `up -d` returned at {}", seconds(r.median())))
                .unwrap_or_default();
            let label = match s.interval {
                None => "docker-compose 1.29, default healthcheck (interval 30 s)".to_string(),
                Some(i) => format!("docker-compose 1.29, healthcheck interval {i}"),
            };
            table
                .row(
                    &section,
                    format!("{label}: exec -> all healthy"),
                    seconds(median),
                )
                .reference(format!(
                    "{}{returned}{}",
                    spread(&samples),
                    floor
                        .as_ref()
                        .map(|f| format!("; x{:.2} the floor", median / f.median()))
                        .unwrap_or_default()
                ));
        }
        let kaspire_rows = [
            (
                Series::KaspireServe,
                "kaspire serve: create -> all Ready (exec check)",
            ),
            (
                Series::KaspireUp,
                "kaspire up --detach --wait -f: exec -> exit",
            ),
        ];
        for (series, label) in kaspire_rows {
            let Some(samples) = figures.samples(shape, series) else {
                continue;
            };
            let median = samples.median();
            let mut ratios: Vec<String> = compose_medians
                .iter()
                .map(|(name, m)| format!("x{:.2} vs compose {name}", median / m))
                .collect();
            if let Some(floor) = &floor {
                ratios.push(format!("x{:.2} vs the floor", median / floor.median()));
            }
            let row = table.row(&section, label, seconds(median));
            ratios.insert(0, spread(&samples));
            row.reference(ratios.join("; "));
            // The target: ahead of Compose at its fastest setting (and so of all).
            if let Some(best) = compose_medians
                .iter()
                .map(|(_, m)| *m)
                .min_by(|a, b| a.total_cmp(b))
            {
                row.at_most(median, (best * 10.0).round() / 10.0, "ms, best compose");
            }
        }
    }
}
