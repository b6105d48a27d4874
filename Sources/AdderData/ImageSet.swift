import AdderCore

/// Labelled images held in memory as bytes (0…255) in N×C×H×W order; converted to
/// normalised floats one batch at a time.
public struct ImageSet: Sendable {
    public let name: String
    public let channels: Int, height: Int, width: Int
    public let classes: Int
    public let pixels: [UInt8]
    public let labels: [Int32]
    public let classNames: [String]

    public init(name: String, channels: Int, height: Int, width: Int, classes: Int, pixels: [UInt8], labels: [Int32],
                classNames: [String]? = nil) throws(DataError) {
        let size = channels * height * width
        guard size > 0, pixels.count == labels.count * size else {
            throw .invalid("\(name): \(pixels.count) pixel bytes do not make \(labels.count) images of \(channels)×\(height)×\(width)")
        }
        if let bad = labels.firstIndex(where: { $0 < 0 || Int($0) >= classes }) {
            throw .invalid("\(name): label \(labels[bad]) of image \(bad) is outside 0..<\(classes)")
        }
        self.name = name; self.channels = channels; self.height = height; self.width = width
        self.classes = classes; self.pixels = pixels; self.labels = labels
        self.classNames = classNames ?? (0..<classes).map(String.init)
    }

    public var count: Int { labels.count }
    public var imageSize: Int { channels * height * width }
    /// Per-sample shape [C, H, W].
    public var shape: [Int] { [channels, height, width] }

    /// The images at `indices`, in that order.
    public func subset(_ indices: [Int], name: String? = nil) -> ImageSet {
        var px = [UInt8](repeating: 0, count: indices.count * imageSize)
        var lb = [Int32](repeating: 0, count: indices.count)
        pixels.withUnsafeBufferPointer { src in
            px.withUnsafeMutableBufferPointer { dst in
                for (j, i) in indices.enumerated() {
                    precondition(i >= 0 && i < count, "subset index \(i) outside 0..<\(count)")
                    (dst.baseAddress! + j * imageSize).update(from: src.baseAddress! + i * imageSize, count: imageSize)
                    lb[j] = labels[i]
                }
            }
        }
        // Labels and sizes were valid in self, so this cannot fail.
        return try! ImageSet(name: name ?? self.name, channels: channels, height: height, width: width, classes: classes,
                             pixels: px, labels: lb, classNames: classNames)
    }

    /// Splits off a held-out validation set of `fraction` of the images, chosen by a seeded shuffle.
    public func split(validationFraction fraction: Double, seed: UInt64) throws(DataError) -> (train: ImageSet, validation: ImageSet) {
        guard fraction > 0, fraction < 1 else { throw .invalid("validation fraction \(fraction) must be in (0, 1)") }
        let order = Shuffle.permutation(count: count, seed: seed, epoch: UInt64.max)
        let k = Int((Double(count) * fraction).rounded())
        guard k > 0, k < count else { throw .invalid("validation fraction \(fraction) of \(count) images leaves an empty split") }
        return (subset(Array(order[k...]).sorted(), name: name + "/train"), subset(Array(order[..<k]).sorted(), name: name + "/validation"))
    }

    /// Per-channel mean and standard deviation of the pixels on the [0, 1] scale.
    public func channelStatistics() -> Normalization {
        var mean = [Float](), std = [Float]()
        let plane = height * width
        for c in 0..<channels {
            var s = 0.0, ss = 0.0
            for n in 0..<count {
                let o = (n * channels + c) * plane
                for j in 0..<plane { let v = Double(pixels[o + j]) / 255; s += v; ss += v * v }
            }
            let m = s / Double(count * plane)
            mean.append(Float(m)); std.append(Float(max(ss / Double(count * plane) - m * m, 1e-12).squareRoot()))
        }
        return Normalization(mean: mean, std: std)
    }
}

/// Per-channel normalisation x ↦ (x/255 − mean) / std.
public struct Normalization: Sendable, Equatable, Codable {
    public var mean: [Float]
    public var std: [Float]
    public init(mean: [Float], std: [Float]) { self.mean = mean; self.std = std }

    /// The usual published statistics of each dataset.
    public static let fashionMNIST = Normalization(mean: [0.2860], std: [0.3530])
    public static let mnist = Normalization(mean: [0.1307], std: [0.3081])
    public static let cifar10 = Normalization(mean: [0.4914, 0.4822, 0.4465], std: [0.2470, 0.2435, 0.2616])
    public static let cifar100 = Normalization(mean: [0.5071, 0.4865, 0.4409], std: [0.2673, 0.2564, 0.2762])
}

/// Seeded permutations: the order of epoch e depends on (seed, e) only, so a run
/// resumed mid-epoch sees the same order.
public enum Shuffle {
    public static func permutation(count: Int, seed: UInt64, epoch: UInt64) -> [Int] {
        var g = SeededGenerator(seed: seed &* 0x9E37_79B9_7F4A_7C15 ^ epoch &+ 0x632B_E59B_D9B4_E019)
        var order = Array(0..<count)
        if count > 1 {
            for i in stride(from: count - 1, to: 0, by: -1) {
                let j = Int(g.next() % UInt64(i + 1))
                order.swapAt(i, j)
            }
        }
        return order
    }
}
