import Foundation
import AdderTestSupport
import AdderTrain

func tempDir() -> String { temporaryDirectory("train") }

/// A small synthetic AdderNet LeNet-5-BN experiment.
func smallConfig(_ name: String = "t", steps: Int = 60, batch: Int = 32, epochs: Int = 1, set overrides: [String] = []) -> ExperimentConfig {
    let yaml = """
    name: \(name)
    model: lenet5
    dataset: synthetic
    trainSamples: \(steps * batch / epochs)
    testSamples: 500
    epochs: \(epochs)
    batchSize: \(batch)
    optimizer: {lr: 0.05}
    layerStatsEvery: 1
    """
    return try! Experiment.parse(yaml: yaml, overrides: overrides).runs[0]
}

/// Polls until `condition` holds or `seconds` pass.
func waitUntil(_ seconds: Double = 60, _ condition: () -> Bool) -> Bool {
    let end = Date().addingTimeInterval(seconds)
    while Date() < end {
        if condition() { return true }
        usleep(2_000)
    }
    return condition()
}
