import Synchronization

/// The thread-safe home of a run's snapshot. The training queue writes between steps;
/// readers (the dashboard, the CLI) take copies.
///
/// A reader gets fresh array buffers (a memcpy under the lock, on the reader's thread),
/// not shared copy-on-write ones: a shared buffer would make the trainer's next append
/// copy the whole history on the training thread, every step, for as long as the reader
/// holds its snapshot.
public final class MetricsStore: Sendable {
    private let state: Mutex<RunSnapshot>

    public init(_ snapshot: RunSnapshot) { state = Mutex(snapshot) }

    public func snapshot() -> RunSnapshot {
        state.withLock { s in
            var copy = s
            copy.steps = s.steps.withUnsafeBufferPointer { Array($0) }
            copy.evals = s.evals.withUnsafeBufferPointer { Array($0) }
            copy.layers = s.layers.withUnsafeBufferPointer { Array($0) }
            copy.events = s.events.withUnsafeBufferPointer { Array($0) }
            return copy
        }
    }

    func update(_ body: (inout RunSnapshot) -> Void) { state.withLock { body(&$0) } }
}
