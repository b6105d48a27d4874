import AdderNN
import Testing
@testable import AdderTrain

@Suite("Energy per run")
struct RunEnergyTests {
    /// Inference is the forward's operations, as `adderlab models` counts them (its table:
    /// LeNet-5 1.92 µJ as a CNN, 1.11 µJ as the paper's AdderNet).
    @Test func inferenceIsWhatModelsPrints() throws {
        var adder = ExperimentConfig(name: "a")
        adder.dataset = .fashionMNIST
        var cnn = adder
        cnn.adders = .cnn
        #expect(RunEnergy.of(adder).inference == Model(.lenet5, placement: .paper).operations)
        #expect(RunEnergy.of(cnn).inference == Model(.lenet5, placement: .cnn).operations)
        #expect(RunEnergy.text(microjoules: RunEnergy.of(adder).inferenceMicrojoules) == "1.11")
        #expect(RunEnergy.text(microjoules: RunEnergy.of(cnn).inferenceMicrojoules) == "1.92")
    }

    /// Training: the forward, then per backward pass (input and filter gradient) a MAC
    /// layer's operations again and, per adder pair, one multiplication and two additions.
    @Test func trainingCountsBothBackwardPasses() {
        let e = RunEnergy([LayerOperations(name: "a", type: "Adder2d", outputShape: [1], operations: OperationCount(multiplications: 0, additions: 10)),
                           LayerOperations(name: "f", type: "Linear", outputShape: [1], operations: OperationCount(multiplications: 3, additions: 3))])
        #expect(e.inference == OperationCount(multiplications: 3, additions: 13))
        #expect(e.training == OperationCount(multiplications: 3 + 10 + 6, additions: 13 + 20 + 6))
        // 19 × 3.7 pJ + 39 × 0.9 pJ = 105.4 pJ per image; a million images: 105.4 µJ.
        #expect(abs(e.trainingMicrojoules - 105.4e-6) < 1e-12)
        #expect(abs(e.trainingJoules(images: 1_000_000) - 105.4e-6) < 1e-12)
        #expect(e.trainingJoules(images: -5) == 0)
    }
}
