import AdderCore
import Dispatch

/// Where the time of training steps went, by `StepProfile` part (`adderlab bench train
/// --breakdown`).
public struct StepBreakdown: Sendable {
    /// Seconds of each measured step, in order.
    public var steps: [Double]
    /// Mean seconds per step of each part, in `StepProfile.Part.allCases` order.
    public var parts: [Double]

    /// Mean seconds per step.
    public var meanStep: Double { steps.reduce(0, +) / Double(Swift.max(steps.count, 1)) }
    /// Mean seconds per step that no part covers: the step less the parts' sum.
    public var other: Double { meanStep - parts.reduce(0, +) }
    /// Median, fastest and slowest step.
    public var timing: Timing {
        let s = steps.sorted()
        return Timing(median: s[s.count / 2], min: s.first!, max: s.last!)
    }
}

extension Model {
    /// One warm-up step, then `repeats` training steps on the same batch, each timed with a
    /// step profile installed on this thread (and the chunks it fans out to).
    public func profiledSteps(images: Tensor, labels: [Int], optimizer: SGD, learningRate: Float, repeats: Int) -> StepBreakdown {
        trainStep(images: images, labels: labels, optimizer: optimizer, learningRate: learningRate)
        let profile = StepProfile()
        var steps: [Double] = []
        for _ in 0..<Swift.max(repeats, 1) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            _ = StepProfile.recording(profile) { trainStep(images: images, labels: labels, optimizer: optimizer, learningRate: learningRate) }
            steps.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        return StepBreakdown(steps: steps, parts: profile.seconds.map { $0 / Double(steps.count) })
    }
}
