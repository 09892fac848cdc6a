//! The future event list: events ordered by `(time, sequence)`, with cancellation.
//!
//! Every scheduled event gets a sequence number from a counter that only grows, so events at
//! the same instant come out in the order they were scheduled (FIFO). That tie-break is what
//! makes a run reproducible: it never depends on heap internals or memory addresses.
//!
//! Events live inline in a binary heap, so scheduling and delivering one is a heap push and a
//! heap pop and nothing else: in steady state nothing is allocated per event. Most events are
//! never cancelled; those that may be are scheduled with [`EventQueue::schedule_cancellable`],
//! which records their sequence number in a small set of live handles. Cancelling removes the
//! handle and the event is dropped when it surfaces.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashSet};

use super::time::SimTime;

/// A handle to a cancellable scheduled event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId(u64);

/// The top bit of a sequence number marks a cancellable event.
const CANCELLABLE: u64 = 1 << 63;

#[derive(Debug)]
struct Entry<E> {
    time: SimTime,
    seq: u64,
    event: E,
}

impl<E> Entry<E> {
    fn key(&self) -> (SimTime, u64) {
        (self.time, self.seq & !CANCELLABLE)
    }
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl<E> Eq for Entry<E> {}

impl<E> Ord for Entry<E> {
    fn cmp(&self, other: &Self) -> Ordering {
        // BinaryHeap is a max-heap: reverse so the earliest (time, seq) is on top.
        other.key().cmp(&self.key())
    }
}

impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A priority queue of events of type `E`, earliest `(time, sequence)` first.
#[derive(Debug)]
pub struct EventQueue<E> {
    heap: BinaryHeap<Entry<E>>,
    /// Sequence numbers of cancellable events still pending. Only ever queried for membership,
    /// never iterated, so its order cannot reach the run; a hash set reuses its storage where a
    /// B-tree would allocate nodes in steady state.
    live_cancellable: HashSet<u64>,
    next_seq: u64,
    pending: usize,
    peak_pending: usize,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> EventQueue<E> {
    /// An empty queue.
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// An empty queue with room for `capacity` pending events before it reallocates.
    pub fn with_capacity(capacity: usize) -> Self {
        EventQueue {
            heap: BinaryHeap::with_capacity(capacity),
            live_cancellable: HashSet::new(),
            next_seq: 0,
            pending: 0,
            peak_pending: 0,
        }
    }

    fn push(&mut self, time: SimTime, seq: u64, event: E) {
        self.heap.push(Entry { time, seq, event });
        self.pending += 1;
        self.peak_pending = self.peak_pending.max(self.pending);
    }

    fn next_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    /// Schedules `event` at `time`.
    pub fn schedule(&mut self, time: SimTime, event: E) {
        let seq = self.next_seq();
        self.push(time, seq, event);
    }

    /// Schedules `event` at `time` and returns a handle that can cancel it.
    pub fn schedule_cancellable(&mut self, time: SimTime, event: E) -> EventId {
        let seq = self.next_seq();
        self.live_cancellable.insert(seq);
        self.push(time, seq | CANCELLABLE, event);
        EventId(seq)
    }

    /// Cancels a pending event. Returns whether it was still pending (not yet delivered or
    /// cancelled).
    pub fn cancel(&mut self, id: EventId) -> bool {
        let was_pending = self.live_cancellable.remove(&id.0);
        if was_pending {
            self.pending -= 1;
        }
        was_pending
    }

    /// Whether the entry on top of the heap was cancelled.
    fn is_cancelled(&self, entry: &Entry<E>) -> bool {
        entry.seq & CANCELLABLE != 0 && !self.live_cancellable.contains(&(entry.seq & !CANCELLABLE))
    }

    /// Removes and returns the earliest pending event.
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        while let Some(entry) = self.heap.pop() {
            if entry.seq & CANCELLABLE != 0 && !self.live_cancellable.remove(&(entry.seq & !CANCELLABLE)) {
                continue;
            }
            self.pending -= 1;
            return Some((entry.time, entry.event));
        }
        None
    }

    /// The time of the earliest pending event, discarding cancelled entries on top.
    pub fn peek_time(&mut self) -> Option<SimTime> {
        while let Some(entry) = self.heap.peek() {
            if !self.is_cancelled(entry) {
                return Some(entry.time);
            }
            self.heap.pop();
        }
        None
    }

    /// Number of events scheduled and neither delivered nor cancelled.
    pub fn len(&self) -> usize {
        self.pending
    }

    /// Whether no event is pending.
    pub fn is_empty(&self) -> bool {
        self.pending == 0
    }

    /// The largest number of simultaneously pending events so far.
    pub fn peak_len(&self) -> usize {
        self.peak_pending
    }

    /// Total number of events ever scheduled (including cancelled ones).
    pub fn scheduled_total(&self) -> u64 {
        self.next_seq
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_times_come_out_in_insertion_order() {
        let mut queue = EventQueue::new();
        let t = SimTime::from_nanos(5);
        for label in 0..100 {
            queue.schedule(t, label);
        }
        queue.schedule(SimTime::from_nanos(1), -1);
        let order: Vec<i32> = std::iter::from_fn(|| queue.pop().map(|(_, e)| e)).collect();
        let mut expected = vec![-1];
        expected.extend(0..100);
        assert_eq!(order, expected);
    }

    #[test]
    fn earlier_times_first() {
        let mut queue = EventQueue::new();
        for t in [30u64, 10, 20, 10, 0] {
            queue.schedule(SimTime::from_nanos(t), t);
        }
        let times: Vec<u64> = std::iter::from_fn(|| queue.pop().map(|(t, _)| t.as_nanos())).collect();
        assert_eq!(times, vec![0, 10, 10, 20, 30]);
    }

    #[test]
    fn cancellation_removes_exactly_that_event() {
        let mut queue = EventQueue::new();
        let a = queue.schedule_cancellable(SimTime::from_nanos(1), 'a');
        let b = queue.schedule_cancellable(SimTime::from_nanos(2), 'b');
        let c = queue.schedule_cancellable(SimTime::from_nanos(3), 'c');
        queue.schedule(SimTime::from_nanos(3), 'x');
        assert!(queue.cancel(b));
        assert!(!queue.cancel(b), "double cancel");
        assert_eq!(queue.len(), 3);
        assert_eq!(queue.pop(), Some((SimTime::from_nanos(1), 'a')));
        assert!(!queue.cancel(a), "already delivered");
        let d = queue.schedule_cancellable(SimTime::from_nanos(4), 'd');
        assert!(!queue.cancel(a));
        assert_eq!(queue.peek_time(), Some(SimTime::from_nanos(3)));
        assert!(queue.cancel(c));
        assert_eq!(
            queue.peek_time(),
            Some(SimTime::from_nanos(3)),
            "x, not the cancelled c"
        );
        assert_eq!(queue.pop(), Some((SimTime::from_nanos(3), 'x')));
        assert_eq!(queue.pop(), Some((SimTime::from_nanos(4), 'd')));
        assert!(!queue.cancel(d));
        assert!(queue.is_empty());
        assert_eq!(queue.pop(), None);
    }

    #[test]
    fn counts_peak_pending() {
        let mut queue = EventQueue::new();
        for t in 0..10 {
            queue.schedule(SimTime::from_nanos(t), ());
        }
        for _ in 0..5 {
            queue.pop();
        }
        queue.schedule(SimTime::from_nanos(100), ());
        assert_eq!(queue.len(), 6);
        assert_eq!(queue.peak_len(), 10);
        assert_eq!(queue.scheduled_total(), 11);
    }
}
