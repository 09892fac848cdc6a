//! The decision log: every placement, scaling and degradation decision, and every change of a
//! routing choice (not every request), with time, subject, choice and a one-line reason.
//!
//! A long run takes decisions at a rate that does not fall with its horizon (route changes,
//! scaling, placements), so the log does not keep them in memory: each decision is encoded as
//! it is recorded and appended to a spill file of length-framed records
//! ([`crate::output::spill::FrameSpill`]), and read back in order when `decisions.csv` and the
//! report are written. Memory keeps the count of each kind and the last decision.

use std::io;

use crate::kernel::SimTime;
use crate::output::spill::FrameSpill;

/// What kind of decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DecisionKind {
    /// A service's requests from an origin now go to a different site.
    RouteChange,
    /// Replicas were added or removed.
    Scale,
    /// Requests were sent to a fallback.
    Degrade,
    /// A policy's answer was not eligible and was replaced.
    Rejected,
    /// A job was given GPUs.
    Place,
    /// A job was left waiting.
    Defer,
    /// A job was interrupted.
    Interrupt,
    /// A job restarts from a checkpoint (or from zero).
    Restore,
    /// A job ended failed.
    Fail,
    /// A scripted incident started or ended.
    Incident,
    /// A policy moved a running job.
    Migrate,
}

impl DecisionKind {
    /// Every kind, in the order of its code in the spill file.
    pub const ALL: [DecisionKind; 11] = [
        DecisionKind::RouteChange,
        DecisionKind::Scale,
        DecisionKind::Degrade,
        DecisionKind::Rejected,
        DecisionKind::Place,
        DecisionKind::Defer,
        DecisionKind::Interrupt,
        DecisionKind::Restore,
        DecisionKind::Fail,
        DecisionKind::Incident,
        DecisionKind::Migrate,
    ];

    /// Its position in [`DecisionKind::ALL`].
    fn code(self) -> u8 {
        self as u8
    }

    /// The name used in outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionKind::RouteChange => "route_change",
            DecisionKind::Scale => "scale",
            DecisionKind::Degrade => "degrade",
            DecisionKind::Rejected => "rejected",
            DecisionKind::Place => "place",
            DecisionKind::Defer => "defer",
            DecisionKind::Interrupt => "interrupt",
            DecisionKind::Restore => "restore",
            DecisionKind::Fail => "fail",
            DecisionKind::Incident => "incident",
            DecisionKind::Migrate => "migrate",
        }
    }
}

/// One decision.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// When.
    pub time: SimTime,
    /// What kind.
    pub kind: DecisionKind,
    /// What it is about ("chat from edge-munich").
    pub subject: String,
    /// What was chosen.
    pub choice: String,
    /// The best choices not taken, with the policy's scores (lower is better).
    pub alternatives: String,
    /// Why, in one line.
    pub reason: String,
}

impl Decision {
    /// Appends the decision's record to `out`: the time (u64 ns), the kind's code (u8), then
    /// each of the four texts as a u32 length and its UTF-8 bytes, all little-endian.
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.time.as_nanos().to_le_bytes());
        out.push(self.kind.code());
        for text in [&self.subject, &self.choice, &self.alternatives, &self.reason] {
            // A text longer than u32::MAX bytes cannot be framed; the decider writes a line.
            let len = u32::try_from(text.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(&text.as_bytes()[..len as usize]);
        }
    }

    /// The decision `encode` wrote into `bytes`.
    fn decode(bytes: &[u8]) -> io::Result<Self> {
        let mut reader = Reader { bytes };
        let time = SimTime::from_nanos(u64::from_le_bytes(reader.take()?));
        let [code] = reader.take::<1>()?;
        let kind = DecisionKind::ALL
            .get(usize::from(code))
            .copied()
            .ok_or_else(|| corrupt("an unknown decision kind"))?;
        Ok(Decision {
            time,
            kind,
            subject: reader.text()?,
            choice: reader.text()?,
            alternatives: reader.text()?,
            reason: reader.text()?,
        })
    }
}

/// Reads a decision's fields in order.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> io::Result<[u8; N]> {
        let (head, rest) = self
            .bytes
            .split_first_chunk::<N>()
            .ok_or_else(|| corrupt("a decision record ended early"))?;
        self.bytes = rest;
        Ok(*head)
    }

    fn text(&mut self) -> io::Result<String> {
        let len = u32::from_le_bytes(self.take()?) as usize;
        if len > self.bytes.len() {
            return Err(corrupt("a decision record ended early"));
        }
        let (text, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        String::from_utf8(text.to_vec()).map_err(|_| corrupt("a decision text is not UTF-8"))
    }
}

fn corrupt(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("decision log: {what}"))
}

/// All decisions of a run, in time order, on disk, with the count of each kind in memory.
#[derive(Debug, Default)]
pub struct DecisionLog {
    records: FrameSpill,
    by_kind: [u64; DecisionKind::ALL.len()],
    last: Option<Decision>,
    scratch: Vec<u8>,
}

impl DecisionLog {
    /// Records a decision.
    pub(super) fn record(
        &mut self,
        time: SimTime,
        kind: DecisionKind,
        subject: String,
        choice: String,
        alternatives: String,
        reason: String,
    ) {
        let decision = Decision {
            time,
            kind,
            subject,
            choice,
            alternatives,
            reason,
        };
        self.scratch.clear();
        decision.encode(&mut self.scratch);
        self.records.push(&self.scratch);
        self.by_kind[usize::from(kind.code())] += 1;
        self.last = Some(decision);
    }

    /// Decisions recorded.
    pub fn len(&self) -> u64 {
        self.records.len()
    }

    /// Whether no decision was recorded.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Decisions recorded of `kind`.
    pub fn count(&self, kind: DecisionKind) -> u64 {
        self.by_kind[usize::from(kind.code())]
    }

    /// The last decision recorded.
    pub fn last(&self) -> Option<&Decision> {
        self.last.as_ref()
    }

    /// Bytes held in memory: the write buffer, the encoding buffer and the last decision.
    pub fn memory_bytes(&self) -> u64 {
        let last = self.last.as_ref().map_or(0, |d| {
            d.subject.capacity() + d.choice.capacity() + d.alternatives.capacity() + d.reason.capacity()
        });
        self.records.memory_bytes() + (self.scratch.capacity() + last) as u64
    }

    /// Bytes the decisions take on disk.
    pub fn disk_bytes(&self) -> u64 {
        self.records.disk_bytes()
    }

    /// The first error met writing the decisions out; the decisions after it were lost, so the
    /// run's outputs cannot be written.
    pub fn spill_error(&self) -> Option<&io::Error> {
        self.records.error()
    }

    /// Calls `visit` with every decision, in the order recorded (time order).
    pub fn for_each(&self, mut visit: impl FnMut(&Decision)) -> io::Result<()> {
        if let Some(e) = self.records.error() {
            return Err(io::Error::new(e.kind(), e.to_string()));
        }
        let mut frames = self.records.frames();
        while let Some(frame) = frames.next_frame() {
            visit(&Decision::decode(frame?)?);
        }
        Ok(())
    }

    /// Every decision, read back into memory: for looking at a run, not for writing files.
    pub fn entries(&self) -> io::Result<Vec<Decision>> {
        let mut out = Vec::new();
        self.for_each(|d| out.push(d.clone()))?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn record(log: &mut DecisionLog, d: &Decision) {
        log.record(
            d.time,
            d.kind,
            d.subject.clone(),
            d.choice.clone(),
            d.alternatives.clone(),
            d.reason.clone(),
        );
    }

    fn decision(i: u64) -> Decision {
        Decision {
            time: SimTime::from_nanos(i * 1_000_003),
            kind: DecisionKind::ALL[(i % 11) as usize],
            subject: format!("chat from edge-{i}"),
            choice: if i.is_multiple_of(3) {
                String::new()
            } else {
                "cloud-eu, \"quoted\"".into()
            },
            alternatives: "é ∞ 🚀".repeat((i % 5) as usize),
            reason: format!("reason {i}\nwith a line break"),
        }
    }

    #[test]
    fn the_kinds_are_listed_in_the_order_of_their_codes() {
        for (i, kind) in DecisionKind::ALL.iter().enumerate() {
            assert_eq!(usize::from(kind.code()), i, "{kind:?}");
        }
    }

    #[test]
    fn a_long_log_keeps_counts_in_memory_and_its_decisions_on_disk() {
        let mut log = DecisionLog::default();
        let small = log.memory_bytes();
        for i in 0..50_000 {
            record(&mut log, &decision(i));
        }
        assert_eq!(log.len(), 50_000);
        assert!(log.disk_bytes() > 2_000_000, "{} bytes on disk", log.disk_bytes());
        // The write buffer and one decision, whatever the count.
        let held = log.memory_bytes();
        assert!(
            held < small + 3 * crate::output::spill::BUFFER as u64,
            "{held} bytes held"
        );
        assert_eq!(log.count(DecisionKind::Scale), 50_000 / 11 + 1);
        assert_eq!(log.last(), Some(&decision(49_999)));
        let mut i = 0;
        log.for_each(|d| {
            assert_eq!(d, &decision(i));
            i += 1;
        })
        .unwrap();
        assert_eq!(i, 50_000);
    }

    #[test]
    fn a_truncated_or_unknown_record_is_an_error_not_a_panic() {
        let mut bytes = Vec::new();
        decision(4).encode(&mut bytes);
        for cut in 0..bytes.len() {
            assert!(Decision::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        bytes[8] = 200;
        assert!(Decision::decode(&bytes).is_err());
    }

    proptest! {
        #[test]
        fn decisions_round_trip(
            time in any::<u64>(),
            kind in 0..11usize,
            texts in proptest::array::uniform4(".{0,40}"),
        ) {
            let [subject, choice, alternatives, reason] = texts;
            let d = Decision { time: SimTime::from_nanos(time), kind: DecisionKind::ALL[kind], subject, choice, alternatives, reason };
            let mut log = DecisionLog::default();
            record(&mut log, &d);
            record(&mut log, &d);
            prop_assert_eq!(log.entries().unwrap(), vec![d.clone(), d]);
        }
    }
}
