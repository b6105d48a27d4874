import Testing
import Dispatch
import Synchronization
import AdderCore
@testable import AdderNN
#if canImport(Glibc)
import Glibc
#endif

/// `StepProfile` (`adderlab bench train --breakdown`): the parts of a step, their sum, and
/// that a profile sees only the thread that installed it.
@Suite("Step profile")
struct StepProfileTests {
    typealias Part = StepProfile.Part

    /// The parts a LeNet-5-BN step goes through, by placement: the CNN has no adder layer;
    /// the paper's AdderNet keeps conv1 and the fully connected layers multiplicative.
    static func expectedParts(_ placement: AdderPlacement) -> Set<Part> {
        placement.isCNN ? [.gemm, .batchNorm, .unfold, .elementwise, .optimizer] : Set(Part.allCases)
    }

    /// Every expected part took time and no other did; the parts add up to the step less a
    /// small remainder (reshapes, output allocations, calls), never to more than the step.
    @Test(arguments: [(AdderPlacement.cnn, 1), (.cnn, 2), (.paper, 1), (.paper, 2)])
    func partsCoverTheStep(placement: AdderPlacement, threads: Int) {
        let b = Parallel.withThreads(threads) { Self.lenetSteps(placement, repeats: 3) }
        let timed = Set(Part.allCases.filter { b.parts[$0.rawValue] > 0 })
        #expect(timed == Self.expectedParts(placement), "\(b.parts)")
        #expect(b.steps.count == 3)
        let sum = b.parts.reduce(0, +)
        #expect(sum <= b.meanStep * (1 + 1e-9), "parts \(sum) s against the step \(b.meanStep) s")
        #expect(b.other >= -1e-9 && b.other <= 0.15 * b.meanStep, "other \(b.other) s of a \(b.meanStep) s step: \(b.parts)")
    }

    /// A profile is installed on one thread (and its chunks): steps of an AdderNet training
    /// at the same time on another thread, without a profile, add nothing to it.
    @Test func aProfileSeesOnlyItsOwnThread() {
        let group = DispatchGroup()
        let stop = StopFlag()
        DispatchQueue.global().async(group: group) {
            Parallel.withThreads(2) {
                while !stop.value.load(ordering: .relaxed) { _ = Self.lenetSteps(.paper, repeats: 1, profiled: false) }
            }
        }
        let b = Parallel.withThreads(2) { Self.lenetSteps(.cnn, repeats: 4) }
        stop.value.store(true, ordering: .relaxed)
        group.wait()
        #expect([Part.adderForward, .adderInputGradient, .adderFilterGradient].map { b.parts[$0.rawValue] } == [0, 0, 0])
        #expect(Set(Part.allCases.filter { b.parts[$0.rawValue] > 0 }) == Self.expectedParts(.cnn))
    }

    /// A region's wall time is split by its parts' thread times: two chunks that each spend
    /// 10 ms in one part and 30 ms in another give that part three quarters of the region.
    @Test func aRegionIsSplitByThreadTime() {
        let profile = StepProfile()
        let t0 = DispatchTime.now().uptimeNanoseconds
        StepProfile.recording(profile) {
            Parallel.withThreads(2) {
                StepProfile.region {
                    Parallel.chunks(2) { _, _ in
                        StepProfile.measure(.unfold) { _ = usleep(10_000) }
                        StepProfile.measure(.adderForward) { _ = usleep(30_000) }
                    }
                }
                StepProfile.measure(.optimizer) { _ = usleep(5_000) }
            }
        }
        let wall = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        let s = profile.seconds
        let region = s[Part.unfold.rawValue] + s[Part.adderForward.rawValue]
        #expect(abs(s[Part.unfold.rawValue] / region - 0.25) < 0.05, "\(s)")
        #expect(region >= 0.040 && s[Part.optimizer.rawValue] >= 0.005, "\(s)")
        #expect(s.reduce(0, +) <= wall, "\(s) against \(wall) s")
        #expect(Set(Part.allCases.filter { s[$0.rawValue] > 0 }) == [.unfold, .adderForward, .optimizer])
        // Nothing is measured once it is uninstalled.
        StepProfile.measure(.gemm) { _ = usleep(1_000) }
        #expect(profile.seconds == s)
    }

    static func lenetSteps(_ placement: AdderPlacement, repeats: Int, profiled: Bool = true) -> StepBreakdown {
        let m = Model(.lenet5, placement: placement, seed: 1)
        m.recordsOutputStatistics = false
        var g = SeededGenerator(seed: 2)
        let x = Tensor.normal(shape: [16] + m.inputShape, generator: &g)
        let labels = (0..<16).map { $0 % 10 }
        let opt = SGD(parameters: m.namedParameters)
        if !profiled {
            for _ in 0..<repeats { m.trainStep(images: x, labels: labels, optimizer: opt, learningRate: 0.01) }
            return StepBreakdown(steps: [], parts: [])
        }
        return m.profiledSteps(images: x, labels: labels, optimizer: opt, learningRate: 0.01, repeats: repeats)
    }
}

final class StopFlag: Sendable {
    let value = Atomic(false)
}
