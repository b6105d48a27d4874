import AdderCore
import Dispatch
import Foundation
import Synchronization

/// SIGINT, SIGTERM and SIGHUP for the commands: the first calls `onSignal` (stop the
/// runs after their step, with checkpoints; or leave the dashboard); with
/// `exitOnSecond`, a second one exits at once, removing the temporary file of a
/// checkpoint being written.
/// Lives on the main thread; the signal handlers share only `flag`.
final class SignalStopper {
    private final class Flag: Sendable { let value = Atomic<Bool>(false) }
    private let flag = Flag()
    private var sources: [any DispatchSourceSignal] = []
    var fired: Bool { flag.value.load(ordering: .relaxed) }

    init(exitOnSecond: Bool = true, onSignal: @escaping @Sendable () -> Void) {
        let flag = self.flag
        sources = [SIGINT, SIGTERM, SIGHUP].map { sig in
            signal(sig, SIG_IGN)
            let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            s.setEventHandler {
                if flag.value.exchange(true, ordering: .relaxed) {
                    if exitOnSecond { AtomicFile.abandonWritesInProgress(); exit(130) }
                    return
                }
                onSignal()
            }
            s.resume()
            return s
        }
    }

    func cancel() {
        for s in sources { s.cancel() }
        signal(SIGINT, SIG_DFL); signal(SIGTERM, SIG_DFL); signal(SIGHUP, SIG_DFL)
    }
}
