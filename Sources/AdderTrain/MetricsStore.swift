import Synchronization

/// The thread-safe home of a run's snapshot. The training queue writes between steps;
/// readers (the dashboard, the CLI) take copies. Arrays inside the snapshot are
/// copy-on-write, so a read costs a few reference-count operations under the lock.
public final class MetricsStore: Sendable {
    private let state: Mutex<RunSnapshot>

    public init(_ snapshot: RunSnapshot) { state = Mutex(snapshot) }

    public func snapshot() -> RunSnapshot { state.withLock { $0 } }

    func update(_ body: (inout RunSnapshot) -> Void) { state.withLock { body(&$0) } }
}
