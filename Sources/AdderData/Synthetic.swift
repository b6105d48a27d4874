import AdderCore

/// A dataset drawn in code: ten classes of simple shapes (ring, disk, square, bars,
/// diagonals, plus, cross, double bar), each with random position, size, stroke
/// width, brightness and Gaussian noise, deterministic from a seed. The 32×32×3
/// version paints each image in a random colour on a random background tint, so
/// colour carries no label information. It needs no download and a LeNet-5-BN
/// learns it to high accuracy in a few hundred steps.
public enum Synthetic {
    public static let classNames = ["ring", "disk", "square", "horizontal bar", "vertical bar", "slash", "backslash",
                                    "plus", "cross", "double bar"]

    /// `count` images of `channels`×`size`×`size` (1×28 or 3×32, or any other), class i
    /// for image index with label = index mod 10 before shuffling by the seed.
    public static func make(count: Int, channels: Int = 1, size: Int = 28, seed: UInt64, name: String = "synthetic") throws(DataError) -> ImageSet {
        guard count > 0, channels == 1 || channels == 3, size >= 12 else {
            throw .invalid("synthetic dataset: count \(count) must be positive, channels \(channels) 1 or 3, size \(size) at least 12")
        }
        var g = SeededGenerator(seed: seed)
        let plane = size * size
        var pixels = [UInt8](repeating: 0, count: count * channels * plane)
        var labels = [Int32](repeating: 0, count: count)
        var intensity = [Float](repeating: 0, count: plane)
        let s = Float(size)
        for n in 0..<count {
            let label = Int(g.next() % 10)
            labels[n] = Int32(label)
            let cx = s / 2 + (g.nextUniform() - 0.5) * s * 0.25
            let cy = s / 2 + (g.nextUniform() - 0.5) * s * 0.25
            let r = s * (0.22 + 0.12 * g.nextUniform())
            let width = s * (0.045 + 0.04 * g.nextUniform())
            let bright = 0.7 + 0.3 * g.nextUniform()
            for y in 0..<size {
                for x in 0..<size {
                    let dx = Float(x) + 0.5 - cx, dy = Float(y) + 0.5 - cy
                    let d = distance(label, dx, dy, r)
                    let v = min(max(1 - (d - width) / 1.2, 0), 1)
                    intensity[y * size + x] = v * bright
                }
            }
            var color: [Float] = [1], background: [Float] = [0]
            if channels == 3 {
                color = (0..<3).map { _ in 0.4 + 0.6 * g.nextUniform() }
                background = (0..<3).map { _ in 0.3 * g.nextUniform() }
            }
            for c in 0..<channels {
                let o = (n * channels + c) * plane
                for j in 0..<plane {
                    let v = background[c] + (color[c] - background[c]) * intensity[j] + 0.12 * g.nextNormal()
                    pixels[o + j] = UInt8(min(max(v, 0), 1) * 255 + 0.5)
                }
            }
        }
        return try ImageSet(name: name, channels: channels, height: size, width: size, classes: 10,
                            pixels: pixels, labels: labels, classNames: classNames)
    }

    /// Distance from (dx, dy) (relative to the centre) to the outline of class `label` of radius r.
    static func distance(_ label: Int, _ dx: Float, _ dy: Float, _ r: Float) -> Float {
        let ax = abs(dx), ay = abs(dy)
        func segment(_ along: Float, _ across: Float) -> Float {  // a bar of half-length r
            let over = max(abs(along) - r, 0)
            return (over * over + across * across).squareRoot()
        }
        let rot = Float(0.70710678)
        switch label {
        case 0: return abs((dx * dx + dy * dy).squareRoot() - r)                    // ring
        case 1: return max((dx * dx + dy * dy).squareRoot() - r * 0.7, 0)           // disk
        case 2: return abs(max(ax, ay) - r * 0.85)                                   // square outline
        case 3: return segment(dx, dy)                                               // horizontal bar
        case 4: return segment(dy, dx)                                               // vertical bar
        case 5: return segment((dx - dy) * rot, (dx + dy) * rot)                     // slash
        case 6: return segment((dx + dy) * rot, (dx - dy) * rot)                     // backslash
        case 7: return min(segment(dx, dy), segment(dy, dx))                         // plus
        case 8: return min(segment((dx - dy) * rot, (dx + dy) * rot), segment((dx + dy) * rot, (dx - dy) * rot))  // cross
        default: return min(segment(dx, dy - r * 0.45), segment(dx, dy + r * 0.45)) // double bar
        }
    }
}
