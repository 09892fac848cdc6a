//! The future event list: events ordered by `(time, sequence)`, with cancellation.
//!
//! Every scheduled event gets a sequence number from a counter that only grows, so events at
//! the same instant come out in the order they were scheduled (FIFO). That tie-break is what
//! makes a run reproducible: no two pending events share a key, so the order they come out in
//! never depends on the heap's shape or on memory addresses.
//!
//! Events live inline in a 4-ary heap, so scheduling and delivering one is a heap push and a
//! heap pop and nothing else: in steady state nothing is allocated per event. A 4-ary heap is
//! half as deep as a binary one and a node's children sit side by side in memory, which makes a
//! pop (the costly half) cheaper. Delivery is lazy: a popped event leaves its place at the root
//! vacant, and the next event scheduled is put there unsifted. A discrete-event model nearly
//! always schedules from the event it is handling, so most deliveries cost one sift-down instead
//! of a removal plus an insertion. When a second event is scheduled, the earlier of the two takes
//! the root and sifts down (usually not far: it is the soonest) and the later goes in at the
//! bottom (usually rising no further): a request's arrival schedules the next arrival, seconds
//! away, and then its trip to a site, milliseconds away, and sifting the far one down from the
//! root would cost the heap's whole depth. When nothing is scheduled, the root is removed the
//! usual way before the next look at the queue.
//!
//! The heap's array runs three places past its last entry, filled with copies of an entry
//! keyed later than any event can be. A sift down therefore always compares a family of four:
//! a last family with fewer children needs no path of its own, and the loop asks only whether
//! the family's first child is an entry.
//!
//! Most events are never cancelled; those that may be are scheduled with
//! [`EventQueue::schedule_cancellable`], which records their sequence number in a small set of
//! live handles. Cancelling removes the handle and the event is dropped when it surfaces.

use std::collections::HashSet;

use super::time::SimTime;

/// A handle to a cancellable scheduled event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId(u64);

/// Children per node of the heap.
const ARITY: usize = 4;

/// Places past the heap's last entry that hold [`Entry::padding`]: enough that every family
/// whose first child is an entry has all four places.
const PADDING: usize = ARITY - 1;

/// The lowest bit of an entry's sequence key marks a cancellable event; the scheduling counter
/// sits above it, so the key still orders entries by when they were scheduled.
const CANCELLABLE: u64 = 1;

#[derive(Debug, Clone, Copy)]
struct Entry<E> {
    /// The entry's place in the order: the time in nanoseconds in the high 64 bits, then the
    /// scheduling counter shifted left by one, with [`CANCELLABLE`] in the lowest bit. Kept
    /// whole so that a sift compares one `u128` per child.
    key: u128,
    event: E,
}

impl<E: Copy> Entry<E> {
    fn new(time: SimTime, seq: u64, event: E) -> Self {
        Entry {
            key: (u128::from(time.as_nanos()) << 64) | u128::from(seq),
            event,
        }
    }

    fn time(&self) -> SimTime {
        SimTime::from_nanos((self.key >> 64) as u64)
    }

    fn seq(&self) -> u64 {
        self.key as u64
    }

    /// A place past the heap's last entry: keyed after every event (a real key this large
    /// would need 2^63 events scheduled), so a sift never moves it up, and holding a copy of
    /// `self`'s event, which is never delivered.
    fn padding(&self) -> Self {
        Entry {
            key: u128::MAX,
            event: self.event,
        }
    }
}

/// What the place at the root of the heap holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Root {
    /// The earliest pending entry, in heap order (or the heap is empty).
    Settled,
    /// Nothing: its entry was delivered, and it awaits the next schedule or its removal.
    Delivered,
    /// An entry scheduled since the delivery, not yet sifted: the next schedule or the next
    /// look at the queue puts it in its place.
    Staged,
}

/// A priority queue of events of type `E`, earliest `(time, sequence)` first.
///
/// Events are plain values (`Copy`): a sift moves an entry with a copy and leaves nothing to
/// drop, and a model keeps anything larger in its own state, named by the event.
#[derive(Debug)]
pub struct EventQueue<E> {
    /// A 4-ary min-heap on [`Entry::key`] in its first `entries` places, then [`PADDING`] places
    /// of padding (once an event was ever scheduled).
    heap: Vec<Entry<E>>,
    /// Entries in the heap (including a delivered or staged root).
    entries: usize,
    /// What the root's place holds.
    root: Root,
    /// Sequence numbers of cancellable events still pending. Only ever queried for membership,
    /// never iterated, so its order cannot reach the run; a hash set reuses its storage where a
    /// B-tree would allocate nodes in steady state.
    live_cancellable: HashSet<u64>,
    next_seq: u64,
    pending: usize,
    peak_pending: usize,
}

impl<E: Copy> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E: Copy> EventQueue<E> {
    /// An empty queue.
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// An empty queue with room for `capacity` pending events before it reallocates.
    pub fn with_capacity(capacity: usize) -> Self {
        EventQueue {
            heap: Vec::with_capacity(capacity + PADDING),
            entries: 0,
            root: Root::Settled,
            live_cancellable: HashSet::new(),
            next_seq: 0,
            pending: 0,
            peak_pending: 0,
        }
    }

    /// Inlined for the usual case, the first event scheduled since a delivery, which takes the
    /// delivered root's place and counts towards no new peak (the pending count is back where
    /// it was before the delivery, or below after a cancellation).
    #[inline(always)]
    fn push(&mut self, time: SimTime, seq: u64, event: E) {
        self.pending += 1;
        if self.root == Root::Delivered {
            // Built in place, not on the stack and copied: a copy reads the entry back in
            // wider pieces than it was written in, which the processor cannot forward from its
            // pending stores, and waits for them to land.
            self.heap[0] = Entry::new(time, seq, event);
            self.root = Root::Staged;
        } else {
            self.push_and_sift(Entry::new(time, seq, event));
        }
    }

    /// Pushes `entry` when the root is settled or staged.
    fn push_and_sift(&mut self, entry: Entry<E>) {
        if self.root == Root::Staged {
            self.root = Root::Settled;
            let staged = self.heap[0];
            let (earlier, later) = if entry.key < staged.key {
                (entry, staged)
            } else {
                (staged, entry)
            };
            self.place_down(0, earlier);
            let last = self.grow(later);
            self.place_up(last, later);
        } else {
            let last = self.grow(entry);
            self.place_up(last, entry);
        }
        self.peak_pending = self.peak_pending.max(self.pending);
    }

    /// Makes room for one more entry at the end of the heap and returns its place, which the
    /// caller fills. `entry` lends its event to the padding the first time.
    #[inline]
    fn grow(&mut self, entry: Entry<E>) -> usize {
        let last = self.entries;
        self.entries += 1;
        if self.heap.len() < self.entries + PADDING {
            self.grow_padding(entry);
        }
        last
    }

    /// Extends the padding by one place (or lays it down, the first time).
    #[cold]
    #[inline(never)]
    fn grow_padding(&mut self, entry: Entry<E>) {
        self.heap.resize(self.entries + PADDING, entry.padding());
    }

    /// The root entry, if the heap has any.
    #[inline(always)]
    fn root_entry(&self) -> Option<&Entry<E>> {
        (self.entries > 0).then(|| &self.heap[0])
    }

    fn next_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    /// Schedules `event` at `time`.
    #[inline]
    pub fn schedule(&mut self, time: SimTime, event: E) {
        let seq = self.next_seq();
        self.push(time, seq << 1, event);
    }

    /// Schedules `event` at `time` and returns a handle that can cancel it.
    pub fn schedule_cancellable(&mut self, time: SimTime, event: E) -> EventId {
        let seq = self.next_seq();
        self.live_cancellable.insert(seq);
        self.push(time, (seq << 1) | CANCELLABLE, event);
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

    /// Removes a delivered root or sifts a staged one down, and then removes cancelled entries
    /// that surface at the root, so that the root (if any) is a pending event. Inlined for the
    /// usual case, where there is nothing to do or only the root to settle.
    #[inline(always)]
    fn settle_root(&mut self) {
        match self.root {
            Root::Settled => {}
            Root::Delivered => {
                self.root = Root::Settled;
                self.remove_root();
            }
            Root::Staged => {
                self.root = Root::Settled;
                let staged = self.heap[0];
                self.place_down(0, staged);
            }
        }
        if self
            .root_entry()
            .is_some_and(|root| root.seq() & CANCELLABLE != 0)
        {
            self.drop_cancelled_roots();
        }
    }

    /// Removes cancelled entries from the root until it holds a pending event.
    #[cold]
    #[inline(never)]
    fn drop_cancelled_roots(&mut self) {
        while let Some(root) = self.root_entry() {
            let seq = root.seq();
            if seq & CANCELLABLE == 0 || self.live_cancellable.contains(&(seq >> 1)) {
                return;
            }
            self.remove_root();
        }
    }

    /// Removes and returns the earliest pending event.
    #[inline]
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        self.settle_root();
        self.take_root()
    }

    /// Delivers the root, which [`settle_root`](Self::settle_root) made a pending event: its
    /// place stays vacant until the next push fills it or the next settle removes it.
    #[inline(always)]
    pub(super) fn take_root(&mut self) -> Option<(SimTime, E)> {
        if self.root != Root::Settled {
            return None;
        }
        let root = *self.root_entry()?;
        let (time, seq) = (root.time(), root.seq());
        if seq & CANCELLABLE != 0 {
            self.live_cancellable.remove(&(seq >> 1));
        }
        self.root = Root::Delivered;
        self.pending -= 1;
        Some((time, root.event))
    }

    /// The time of the earliest pending event, discarding cancelled entries on top.
    #[inline]
    pub fn peek_time(&mut self) -> Option<SimTime> {
        self.settle_root();
        self.root_entry().map(Entry::time)
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

    /// Replaces the root with the last entry and restores the heap below it.
    fn remove_root(&mut self) {
        let Some(last_place) = self.entries.checked_sub(1) else {
            return;
        };
        let last = self.heap[last_place];
        self.heap[last_place] = last.padding();
        self.entries = last_place;
        if last_place > 0 {
            self.place_down(0, last);
        }
    }

    /// Puts `entry` into the vacant place `hole`, or above it: parents later than `entry`
    /// move down into the hole, which rises, so each level costs one move, not a swap.
    #[inline]
    fn place_up(&mut self, mut hole: usize, entry: Entry<E>) {
        while hole > 0 {
            let parent = (hole - 1) / ARITY;
            if self.heap[parent].key < entry.key {
                break;
            }
            self.heap[hole] = self.heap[parent];
            hole = parent;
        }
        self.heap[hole] = entry;
    }

    /// Puts `entry` into the vacant place `hole`, or below it: the earliest child moves up
    /// into the hole while it is earlier than `entry`.
    ///
    /// A family whose first child is an entry has four places, the missing children padded,
    /// so the loop compares four without asking how many there are.
    #[inline(always)]
    fn place_down(&mut self, mut hole: usize, entry: Entry<E>) {
        let entries = self.entries;
        let heap = self.heap.as_mut_slice();
        loop {
            let first = ARITY * hole + 1;
            if first >= entries {
                break;
            }
            let Some(family) = heap.get(first..).and_then(<[Entry<E>]>::first_chunk::<ARITY>) else {
                break;
            };
            let least = earliest_of_four(family);
            if entry.key < family[least].key {
                break;
            }
            heap[hole] = family[least];
            hole = first + least;
        }
        heap[hole] = entry;
    }
}

/// The position of the earliest of a family of four children. They are compared as two
/// independent pairs and then their winners, picking positions rather than keys, so each
/// comparison compiles to a conditional move: which child is earliest is a coin toss at every
/// level of every sift, and a branch on it is mispredicted half the time.
#[inline(always)]
fn earliest_of_four<E>(family: &[Entry<E>; ARITY]) -> usize {
    let left = usize::from(family[1].key < family[0].key);
    let right = 2 + usize::from(family[3].key < family[2].key);
    if family[right].key < family[left].key {
        right
    } else {
        left
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

    /// What the queue is checked against: every pending event in a sorted list.
    #[derive(Default)]
    struct Reference {
        pending: Vec<(u64, u64, u32)>,
        next_seq: u64,
    }

    impl Reference {
        fn schedule(&mut self, time: u64, label: u32) -> u64 {
            self.next_seq += 1;
            self.pending.push((time, self.next_seq, label));
            self.pending.sort_unstable();
            self.next_seq
        }

        fn pop(&mut self) -> Option<(u64, u32)> {
            (!self.pending.is_empty()).then(|| {
                let (time, _, label) = self.pending.remove(0);
                (time, label)
            })
        }
    }

    proptest::proptest! {
        /// Any mix of scheduling (at or after the last delivery, as the run loop does),
        /// cancelling, peeking and delivering comes out as a sorted list would give it: the lazy
        /// root and the 4-ary sifts change the work, never the order.
        #[test]
        fn delivers_in_time_then_scheduling_order(
            steps in proptest::collection::vec((0u8..8, 0u64..50, proptest::bool::ANY), 1..400),
        ) {
            let mut queue = EventQueue::new();
            let mut reference = Reference::default();
            let mut handles: Vec<(EventId, u64)> = Vec::new();
            let mut now = 0;
            for (label, (op, delay, cancellable)) in steps.into_iter().enumerate() {
                let label = label as u32;
                match op {
                    0..=3 => {
                        let at = SimTime::from_nanos(now + delay);
                        let seq = reference.schedule(now + delay, label);
                        if cancellable {
                            handles.push((queue.schedule_cancellable(at, label), seq));
                        } else {
                            queue.schedule(at, label);
                        }
                    }
                    4 if !handles.is_empty() => {
                        let (id, seq) = handles.swap_remove(delay as usize % handles.len());
                        let was_pending = reference.pending.iter().any(|p| p.1 == seq);
                        reference.pending.retain(|p| p.1 != seq);
                        proptest::prop_assert_eq!(queue.cancel(id), was_pending);
                    }
                    5 => {
                        let expected = reference.pending.first().map(|p| p.0);
                        proptest::prop_assert_eq!(queue.peek_time().map(SimTime::as_nanos), expected);
                    }
                    _ => {
                        let got = queue.pop().map(|(t, e)| (t.as_nanos(), e));
                        let expected = reference.pop();
                        proptest::prop_assert_eq!(got, expected);
                        if let Some((time, _)) = got {
                            now = time;
                        }
                    }
                }
                proptest::prop_assert_eq!(queue.len(), reference.pending.len());
            }
            while let Some(expected) = reference.pop() {
                proptest::prop_assert_eq!(queue.pop().map(|(t, e)| (t.as_nanos(), e)), Some(expected));
            }
            proptest::prop_assert_eq!(queue.pop(), None);
        }
    }
}
