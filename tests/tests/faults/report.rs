//! One table row per scenario: appended as tab-separated values to the file named by
//! `FAULTS_REPORT` (hack/test-faults.sh prints them as a table) and printed to stderr.

use std::io::Write;
use std::time::Duration;

use crate::converge::{Convergence, Diff};

/// Header of the table, matching [`Row::tsv`].
pub const HEADER: &str = "scenario\tobjects\tlost\textra\tre-created\tconverged in\tresult\tnotes";

/// The outcome of one scenario.
#[derive(Debug)]
pub struct Row {
    /// Short name.
    pub scenario: &'static str,
    /// Distinct objects the scenario wrote.
    pub objects: usize,
    /// Desired objects missing or stale at the end, plus writes that should have succeeded
    /// and never did.
    pub lost: usize,
    /// Objects present that should not be, plus objects admitted that should have been refused.
    pub extra: usize,
    /// Member copies deleted and created again (their uid changed) although their cluster
    /// stayed in the placement.
    pub recreated: usize,
    /// From the end of the fault (or the last host write, if later) to convergence.
    pub converged: Option<Duration>,
    /// Measurements worth reading (takeover time, refusals, …).
    pub notes: Vec<String>,
    /// Checks of the scenario that failed, besides loss and extras.
    pub problems: Vec<String>,
    /// Examples of what was lost or extra.
    pub examples: Vec<String>,
}

impl Row {
    /// A row for `scenario` over `objects` objects, before anything is known.
    pub fn new(scenario: &'static str, objects: usize) -> Row {
        Row {
            scenario,
            objects,
            lost: 0,
            extra: 0,
            recreated: 0,
            converged: None,
            notes: vec![],
            problems: vec![],
            examples: vec![],
        }
    }

    /// Takes in the final comparison.
    pub fn converged(&mut self, c: Convergence) {
        let Convergence { after, diff: Diff { lost, extra, examples } } = c;
        self.converged = after;
        self.lost += lost;
        self.extra += extra;
        self.examples.extend(examples);
        if after.is_none() {
            self.problems.push("did not converge before the deadline".into());
        }
    }

    /// Takes in the re-creations the member watches saw (see `watch.rs`).
    pub fn recreated(&mut self, (count, examples): (usize, Vec<String>)) {
        self.recreated += count;
        self.examples.extend(examples);
    }

    /// Writes that should have succeeded and never did count as lost.
    pub fn failed_writes(&mut self, failed: &[String]) {
        self.lost += failed.len();
        self.examples.extend(failed.iter().take(5).cloned());
    }

    /// A note for the table.
    pub fn note(&mut self, text: impl Into<String>) {
        self.notes.push(text.into());
    }

    /// Records a failed check.
    pub fn problem(&mut self, text: impl Into<String>) {
        self.problems.push(text.into());
    }

    /// Nothing lost, nothing extra, nothing re-created, converged, every check held.
    pub fn passed(&self) -> bool {
        self.lost == 0 && self.extra == 0 && self.recreated == 0 && self.converged.is_some() && self.problems.is_empty()
    }

    /// The row as tab-separated values (see [`HEADER`]).
    pub fn tsv(&self) -> String {
        let converged = self.converged.map_or("-".to_string(), |d| format!("{:.1} s", d.as_secs_f64()));
        let result = if self.passed() { "ok" } else { "FAIL" };
        let notes = self.notes.iter().chain(&self.problems).cloned().collect::<Vec<_>>().join("; ");
        let Row { scenario, objects, lost, extra, recreated, .. } = self;
        format!("{scenario}\t{objects}\t{lost}\t{extra}\t{recreated}\t{converged}\t{result}\t{notes}")
    }

    /// Appends the row to `$FAULTS_REPORT` (when set), prints it, and fails the test unless it
    /// passed.
    pub fn finish(self) {
        if let Ok(path) = std::env::var("FAULTS_REPORT") {
            let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&path).expect("report file");
            writeln!(file, "{}", self.tsv()).expect("report written");
        }
        eprintln!("{HEADER}\n{}", self.tsv());
        assert!(self.passed(), "{}: {:?}; examples: {:?}", self.scenario, self.problems, self.examples);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_fails_on_loss_extras_problems_or_no_convergence() {
        let done = |lost, extra| Convergence {
            after: Some(Duration::from_millis(1500)),
            diff: Diff { lost, extra, examples: vec![] },
        };
        let mut ok = Row::new("s", 10);
        ok.converged(done(0, 0));
        ok.note("n");
        assert!(ok.passed());
        assert_eq!(ok.tsv(), "s\t10\t0\t0\t0\t1.5 s\tok\tn");
        let mut lost = Row::new("s", 10);
        lost.converged(done(1, 0));
        assert!(!lost.passed());
        let mut extra = Row::new("s", 10);
        extra.converged(done(0, 2));
        assert!(extra.tsv().contains("\t2\t0\t1.5 s\tFAIL"));
        let mut churned = Row::new("s", 10);
        churned.converged(done(0, 0));
        churned.recreated((1, vec!["vulcan: a re-created (2 uids)".into()]));
        assert!(!churned.passed());
        assert!(churned.tsv().contains("\t0\t0\t1\t1.5 s\tFAIL"));
        let mut stuck = Row::new("s", 10);
        stuck.converged(Convergence { after: None, diff: Diff::default() });
        assert!(!stuck.passed());
        assert!(stuck.tsv().contains("\t-\tFAIL\tdid not converge"));
        let mut checked = Row::new("s", 1);
        checked.converged(done(0, 0));
        checked.problem("no takeover");
        assert!(!checked.passed());
    }
}
