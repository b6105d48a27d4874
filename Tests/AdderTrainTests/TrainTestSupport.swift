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

/// The fields of a protocol buffer message: (field, wire type, bytes of a length-delimited
/// value or the 8 bytes of a double).
func protobufFields(_ b: [UInt8]) -> [(field: Int, bytes: [UInt8])] {
    var out: [(Int, [UInt8])] = [], i = 0
    func varint() -> Int { var v = 0, s = 0; while true { let x = b[i]; i += 1; v |= Int(x & 0x7F) << s; s += 7; if x < 0x80 { return v } } }
    while i < b.count {
        let key = varint(), field = key >> 3
        switch key & 7 {
        case 0: _ = varint()
        case 1: out.append((field, Array(b[i..<(i + 8)]))); i += 8
        case 5: i += 4
        case 2: let n = varint(); out.append((field, Array(b[i..<(i + n)]))); i += n
        default: return out
        }
    }
    return out
}
