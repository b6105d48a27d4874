import Foundation
import Testing
import AdderCore
import AdderTestSupport
@testable import AdderNN

/// LeNet-5-BN with a 2-unit feature layer before the classifier (the paper's Fig. 1).
@Suite("Feature layer")
struct FeatureLayerTests {
    /// The parameter names from the feature layer on (the layers before are LeNet-5-BN's).
    func tail(_ m: Model) -> [String] {
        Array(m.namedParameters.map(\.0).drop { !$0.hasPrefix("features") })
    }

    @Test func cnnHasLinearFeaturesAndALinearClassifier() {
        let m = Model(.lenet5, placement: .cnn, featureDimensions: 2)
        #expect(tail(m) == ["features.weight", "features.bias", "fc2.weight", "fc2.bias"])
        #expect(m.adderLayers.isEmpty)
        #expect(m.namedParameters.first { $0.0 == "features.weight" }?.1.value.shape == [2, 84])
    }

    @Test func adderNetReadsItsFeaturesByL1Distance() {
        let m = Model(.lenet5, placement: .paper, featureDimensions: 2)
        #expect(tail(m) == ["features.weight", "features.bias", "fc2.1.weight"])
        #expect(m.adderLayers.map(\.0) == ["conv2", "conv3", "fc2.1"])
        #expect(m.namedParameters.first { $0.0 == "fc2.1.weight" }?.1.value.shape == [10, 2, 1, 1])
        // Under `full` the feature layer is an adder too (fully connected layers are).
        let full = Model(.lenet5, placement: AdderPlacement(hidden: true, firstConvolution: true, classifier: true), featureDimensions: 2)
        #expect(full.adderLayers.map(\.0) == ["conv1", "conv2", "conv3", "fc1.1", "features.1", "fc2.1"])
        #expect(full.operations.multiplications == 0)
    }

    @Test func featuresAreWhatTheClassifierReads() throws {
        let x = normalTensor([4, 1, 28, 28], seed: 7)
        for placement in [AdderPlacement.cnn, .paper] {
            let m = Model(.lenet5, placement: placement, featureDimensions: 2, seed: 3)
            let opt = SGD(parameters: m.namedParameters)
            m.trainStep(images: x, labels: [0, 1, 2, 3], optimizer: opt, learningRate: 0.1)
            let f = try #require(m.features(x))
            #expect(f.shape == [4, 2])
            let classifier = try #require(m.root.layers.first { $0.0 == "fc2" }?.1)
            #expect(classifier.forward(f, training: false) == m.forward(x, training: false))
            if !placement.isCNN {
                // Logit k is −‖f − c_k‖₁ for the centre c_k of class k.
                let c = try #require(m.namedParameters.first { $0.0 == "fc2.1.weight" }?.1.value.values)
                let fv = f.values
                var expected: [Float] = []
                for n in 0..<4 {
                    for k in 0..<10 {
                        let dx: Float = abs(fv[2 * n] - c[2 * k]), dy: Float = abs(fv[2 * n + 1] - c[2 * k + 1])
                        expected.append(-(dx + dy))
                    }
                }
                #expect(maxDifference(m.forward(x, training: false).values, expected) < 1e-5)
            }
            #expect(m.forward(x, training: true).shape == [4, 10])
        }
    }

    @Test func standardModelsAreUnchanged() {
        let plain = Model(.lenet5, placement: .paper, seed: 5), zero = Model(.lenet5, placement: .paper, featureDimensions: 0, seed: 5)
        #expect(plain.namedParameters.map(\.0) == zero.namedParameters.map(\.0))
        #expect(plain.namedParameters.map(\.1.value) == zero.namedParameters.map(\.1.value))
        #expect(plain.features(normalTensor([1, 1, 28, 28], seed: 1)) == nil)
        #expect(plain.featureDimensions == 0)
        // 84→10 (850 parameters) becomes 84→2 and 2→10 (170 + 30).
        #expect(Model(.lenet5, placement: .cnn, featureDimensions: 2).parameterCount == Model(.lenet5, placement: .cnn).parameterCount - 650)
    }

    @Test func checkpointRoundTrip() throws {
        let url = URL(fileURLWithPath: temporaryDirectory("features")).appendingPathComponent("f.safetensors")
        let a = Model(.lenet5, placement: .paper, featureDimensions: 2, seed: 1)
        let optA = SGD(parameters: a.namedParameters)
        let x = normalTensor([4, 1, 28, 28], seed: 2)
        a.trainStep(images: x, labels: [1, 2, 3, 4], optimizer: optA, learningRate: 0.1)
        try Checkpoint.save(model: a, optimizer: optA, metadata: [:], to: url)
        let b = Model(.lenet5, placement: .paper, featureDimensions: 2, seed: 9)
        _ = try Checkpoint.load(from: url, into: b, optimizer: SGD(parameters: b.namedParameters))
        #expect(b.features(x) == a.features(x))
        #expect(b.forward(x, training: false) == a.forward(x, training: false))
        // A model without the feature layer does not take it.
        let plain = Model(.lenet5, placement: .paper)
        #expect(throws: (any Error).self) { _ = try Checkpoint.load(from: url, into: plain, optimizer: SGD(parameters: plain.namedParameters)) }
    }
}
