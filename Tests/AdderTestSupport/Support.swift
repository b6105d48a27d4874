import Foundation

/// A new empty directory under the system's temporary directory, for one test.
public func temporaryDirectory(_ label: String = "test") -> String {
    let d = FileManager.default.temporaryDirectory.appendingPathComponent("adderlab-\(label)-\(UUID().uuidString)").path
    try! FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
    return d
}

/// max |a−b| / (1 + max |b|): a relative bound that tolerates Float32 summation-order
/// differences (~K·2⁻²⁴ relative) against a Double reference. The tolerance every
/// kernel-against-reference test uses.
public func relativeError(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count)
    let scale = 1 + (b.map(abs).max() ?? 0)
    return zip(a, b).map { abs($0 - $1) }.max().map { $0 / scale } ?? 0
}

/// max |a−b|, for results that are exact up to rounding (hand-computed cases).
public func maxDifference(_ a: [Float], _ b: [Float]) -> Float {
    zip(a, b).map { abs($0 - $1) }.max() ?? .infinity
}
