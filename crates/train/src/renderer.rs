//! Plain-text progress for logs and pipes, where burn-train's terminal
//! dashboard cannot draw.

use std::collections::HashMap;
use std::io::Write;
use std::time::Instant;

use burn::train::metric::{MetricDefinition, MetricId};
use burn::train::renderer::{
    EvaluationName, EvaluationProgress, MetricState, MetricsRenderer, MetricsRendererEvaluation,
    MetricsRendererTraining, ProgressType, TrainingProgress,
};

/// How many progress lines each epoch prints at most.
const LINES_PER_EPOCH: usize = 10;

/// Prints one line per tenth of an epoch and a summary line at the end of
/// each training and validation pass, e.g.
/// `epoch 2/5 train  40% (312/782 batches)  Loss 1.274  Accuracy 55.120 %  31.2 s`.
pub struct PlainRenderer {
    names: HashMap<MetricId, String>,
    train: Vec<(MetricId, String)>,
    valid: Vec<(MetricId, String)>,
    last_decile: Option<(usize, &'static str, usize)>,
    epoch_started: Instant,
}

impl PlainRenderer {
    /// A renderer that writes to standard output.
    pub fn new() -> Self {
        Self {
            names: HashMap::new(),
            train: Vec::new(),
            valid: Vec::new(),
            last_decile: None,
            epoch_started: Instant::now(),
        }
    }

    fn remember(values: &mut Vec<(MetricId, String)>, state: MetricState) {
        let entry = match state {
            MetricState::Generic(entry) | MetricState::Numeric(entry, _) => entry,
        };
        let text = entry.serialized_entry.formatted;
        match values.iter_mut().find(|(id, _)| *id == entry.metric_id) {
            Some(slot) => slot.1 = text,
            None => values.push((entry.metric_id, text)),
        }
    }

    fn render(&mut self, split: &'static str, item: TrainingProgress) {
        let Some(progress) = item.progress else { return };
        let epoch = item.global_progress.items_processed;
        let total = progress.items_total.max(1);
        let done = progress.items_processed.min(total);
        let decile = done * LINES_PER_EPOCH / total;
        let key = (epoch, split, decile);
        if self.last_decile == Some(key) {
            return;
        }
        if split == "train" && self.last_decile.is_none_or(|(e, _, _)| e != epoch) {
            self.epoch_started = Instant::now();
        }
        self.last_decile = Some(key);
        let values = if split == "train" { &self.train } else { &self.valid };
        let metrics: Vec<String> = values
            .iter()
            .map(|(id, text)| {
                let name = self.names.get(id).map(String::as_str).unwrap_or("metric");
                format!("{name} {text}")
            })
            .collect();
        let batches = item.iteration.map(|i| format!(" ({i} batches)")).unwrap_or_default();
        let line = format!(
            "epoch {epoch}/{} {split:<5} {:>3}%{batches}  {}  {:.1} s",
            item.global_progress.items_total,
            done * 100 / total,
            metrics.join("  "),
            self.epoch_started.elapsed().as_secs_f64()
        );
        let mut out = std::io::stdout().lock();
        // A closed pipe must not stop training: progress is informational.
        let _ = writeln!(out, "{line}");
    }
}

impl Default for PlainRenderer {
    fn default() -> Self {
        Self::new()
    }
}

impl MetricsRendererTraining for PlainRenderer {
    fn update_train(&mut self, state: MetricState) {
        Self::remember(&mut self.train, state);
    }

    fn update_valid(&mut self, state: MetricState) {
        Self::remember(&mut self.valid, state);
    }

    fn render_train(&mut self, item: TrainingProgress, _indicators: Vec<ProgressType>) {
        self.render("train", item);
    }

    fn render_valid(&mut self, item: TrainingProgress, _indicators: Vec<ProgressType>) {
        self.render("valid", item);
    }
}

impl MetricsRendererEvaluation for PlainRenderer {
    fn update_test(&mut self, _name: EvaluationName, state: MetricState) {
        Self::remember(&mut self.valid, state);
    }

    fn render_test(&mut self, item: EvaluationProgress, _indicators: Vec<ProgressType>) {
        self.render("test", TrainingProgress::from(&item));
    }
}

impl MetricsRenderer for PlainRenderer {
    fn manual_close(&mut self) {}

    fn register_metric(&mut self, definition: MetricDefinition) {
        self.names.insert(definition.metric_id, definition.name);
    }
}
