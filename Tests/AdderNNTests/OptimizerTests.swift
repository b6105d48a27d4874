import Testing
import AdderCore
@testable import AdderNN

@Suite("SGD and the adaptive learning rate")
struct OptimizerTests {
    /// Two steps worked by hand: w = [3, 4] (an adder filter, k = 2), η = 0.2, λ = 0.01,
    /// μ = 0.9, lr = 0.1.
    /// Step 1: g = [.3, .4], ‖g‖ = .5, α = .2·√2/.5 = .565685; d = αg + λw = [.199706, .266274];
    ///         b = d; w = w − .1·b = [2.980029, 3.973373].
    /// Step 2: g = [−.6, .8], ‖g‖ = 1, α = .282843; d = [−.169706 + .029800, .226274 + .039733]
    ///         = [−.139905, .266008]; b = .9·b + d = [.039830, .505655]; w = [2.976046, 3.922807].
    @Test func adaptiveRateMomentumAndWeightDecayTwoSteps() throws {
        let p = Parameter(try Tensor(shape: [2], values: [3, 4]), role: .adderFilter)
        var c = SGDConfiguration()
        c.weightDecay = 0.01
        let opt = SGD(parameters: [("w", p)], configuration: c)
        p.grad = try Tensor(shape: [2], values: [0.3, 0.4])
        opt.step(learningRate: 0.1)
        #expect(abs(p.alpha - 0.565685) < 1e-5)
        #expect(abs(p.gradNorm - 0.5) < 1e-6)
        #expect(abs(p.weightNorm - 5) < 1e-6)
        #expect(zip(p.value.values, [2.980029, 3.973373]).allSatisfy { abs($0 - $1) < 1e-5 })
        p.grad = try Tensor(shape: [2], values: [-0.6, 0.8])
        opt.step(learningRate: 0.1)
        #expect(abs(p.alpha - 0.282843) < 1e-5)
        #expect(zip(opt.momentumBuffers[0]!.values, [0.039830, 0.505655]).allSatisfy { abs($0 - $1) < 1e-5 })
        #expect(zip(p.value.values, [2.976046, 3.922807]).allSatisfy { abs($0 - $1) < 1e-5 })
    }

    /// Non-adder weights are never rescaled; fixed and scaled strategies give α = 1 and the constant.
    @Test func strategies() throws {
        let conv = Parameter(try Tensor(shape: [1], values: [1]), role: .weight)
        let adder = Parameter(try Tensor(shape: [4], values: [1, 1, 1, 1]), role: .adderFilter)
        for (strategy, expected) in [(LearningRateStrategy.adaptive, 0.2 * 2 / 2.0), (.fixed, 1), (.scaled, 10)] {
            var c = SGDConfiguration(); c.strategy = strategy; c.momentum = 0; c.weightDecay = 0
            let opt = SGD(parameters: [("c", conv), ("a", adder)], configuration: c)
            conv.grad = try Tensor(shape: [1], values: [2])
            adder.grad = try Tensor(shape: [4], values: [1, 1, 1, 1])  // ‖g‖ = 2, √k = 2
            opt.step(learningRate: 0)
            #expect(conv.alpha == 1)
            #expect(abs(adder.alpha - expected) < 1e-6, "\(strategy)")
        }
    }

    /// Nesterov: w −= lr·(d + μ·b), b = μ·b + d. One step from b = 0: w = 1 − .1·(1 + .9·1) = .81.
    @Test func nesterov() throws {
        let p = Parameter(try Tensor(shape: [1], values: [1]), role: .weight)
        var c = SGDConfiguration(); c.nesterov = true; c.weightDecay = 0
        let opt = SGD(parameters: [("w", p)], configuration: c)
        p.grad = try Tensor(shape: [1], values: [1])
        opt.step(learningRate: 0.1)
        #expect(abs(p.value.values[0] - 0.81) < 1e-6)
    }

    @Test func schedules() {
        let cos = LearningRateSchedule(base: 0.1, shape: .cosine(totalSteps: 100))
        #expect(abs(cos.rate(at: 0) - 0.1) < 1e-7 && abs(cos.rate(at: 50) - 0.05) < 1e-7 && cos.rate(at: 100) < 1e-7)
        let step = LearningRateSchedule(base: 1, shape: .step(stepSize: 10, gamma: 0.1))
        #expect(step.rate(at: 9) == 1 && abs(step.rate(at: 10) - 0.1) < 1e-7 && abs(step.rate(at: 25) - 0.01) < 1e-7)
        let warm = LearningRateSchedule(base: 0.4, shape: .constant, warmupSteps: 4)
        #expect(warm.rate(at: 0) == 0.1 && warm.rate(at: 3) == 0.4 && warm.rate(at: 10) == 0.4)
    }
}
