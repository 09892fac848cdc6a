//! The future event list: events ordered by `(time, sequence)`, with cancellation.
//!
//! Every scheduled event gets a sequence number from a counter that only grows, so events at
//! the same instant come out in the order they were scheduled (FIFO). That tie-break is what
//! makes a run reproducible: it never depends on heap internals or memory addresses.
//!
//! Payloads live in a slot arena beside the heap; the heap holds only `(time, seq, slot)`.
//! Cancelling empties the slot and the stale heap entry is skipped when it surfaces. Slots are
//! recycled through a free list, so a simulation in steady state allocates nothing per event.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::time::SimTime;

/// A handle to a scheduled event, used to cancel it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventId {
    slot: u32,
    seq: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct HeapEntry {
    time: SimTime,
    seq: u64,
    slot: u32,
}

impl Ord for HeapEntry {
    fn cmp(&self, other: &Self) -> Ordering {
        // BinaryHeap is a max-heap: reverse so the earliest (time, seq) is on top.
        (other.time, other.seq).cmp(&(self.time, self.seq))
    }
}

impl PartialOrd for HeapEntry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[derive(Debug)]
struct Slot<E> {
    seq: u64,
    event: Option<E>,
}

/// A priority queue of events of type `E`, earliest `(time, sequence)` first.
#[derive(Debug)]
pub struct EventQueue<E> {
    heap: BinaryHeap<HeapEntry>,
    slots: Vec<Slot<E>>,
    free_slots: Vec<u32>,
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
            slots: Vec::with_capacity(capacity),
            free_slots: Vec::with_capacity(capacity),
            next_seq: 0,
            pending: 0,
            peak_pending: 0,
        }
    }

    /// Schedules `event` at `time`; returns a handle that can cancel it.
    pub fn schedule(&mut self, time: SimTime, event: E) -> EventId {
        let seq = self.next_seq;
        self.next_seq += 1;
        let slot = match self.free_slots.pop() {
            Some(slot) => {
                self.slots[slot as usize] = Slot {
                    seq,
                    event: Some(event),
                };
                slot
            }
            None => {
                self.slots.push(Slot {
                    seq,
                    event: Some(event),
                });
                // More than 4 billion simultaneously pending events cannot fit in memory anyway.
                u32::try_from(self.slots.len() - 1).expect("fewer than 2^32 pending events")
            }
        };
        self.heap.push(HeapEntry { time, seq, slot });
        self.pending += 1;
        self.peak_pending = self.peak_pending.max(self.pending);
        EventId { slot, seq }
    }

    /// Cancels a pending event. Returns the event if it was still pending, `None` if it had
    /// already been delivered or cancelled.
    pub fn cancel(&mut self, id: EventId) -> Option<E> {
        let slot = self.slots.get_mut(id.slot as usize)?;
        if slot.seq != id.seq {
            return None;
        }
        let event = slot.event.take()?;
        self.pending -= 1;
        Some(event)
    }

    /// Removes and returns the earliest pending event.
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        while let Some(entry) = self.heap.pop() {
            let slot = &mut self.slots[entry.slot as usize];
            let event = slot.event.take();
            self.free_slots.push(entry.slot);
            if let Some(event) = event {
                self.pending -= 1;
                return Some((entry.time, event));
            }
        }
        None
    }

    /// The time of the earliest pending event, discarding cancelled entries on top.
    pub fn peek_time(&mut self) -> Option<SimTime> {
        while let Some(entry) = self.heap.peek().copied() {
            if self.slots[entry.slot as usize].event.is_some() {
                return Some(entry.time);
            }
            self.heap.pop();
            self.free_slots.push(entry.slot);
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
        let a = queue.schedule(SimTime::from_nanos(1), 'a');
        let b = queue.schedule(SimTime::from_nanos(2), 'b');
        let c = queue.schedule(SimTime::from_nanos(3), 'c');
        assert_eq!(queue.cancel(b), Some('b'));
        assert_eq!(queue.cancel(b), None, "double cancel");
        assert_eq!(queue.len(), 2);
        assert_eq!(queue.pop(), Some((SimTime::from_nanos(1), 'a')));
        assert_eq!(queue.cancel(a), None, "already delivered");
        // The slot of `a` or `b` is reused; the old handles must not cancel the new event.
        let d = queue.schedule(SimTime::from_nanos(4), 'd');
        assert_eq!(queue.cancel(a), None);
        assert_eq!(queue.cancel(b), None);
        assert_eq!(queue.peek_time(), Some(SimTime::from_nanos(3)));
        assert_eq!(queue.cancel(c), Some('c'));
        assert_eq!(queue.pop(), Some((SimTime::from_nanos(4), 'd')));
        assert_eq!(queue.cancel(d), None);
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
