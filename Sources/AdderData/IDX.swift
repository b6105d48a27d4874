import Foundation

/// The IDX format of MNIST and its relatives: two zero bytes, a type byte (0x08 for
/// unsigned bytes), the number of dimensions, the dimensions as big-endian u32, then
/// the data. Files may be gzip-compressed.
public enum IDX {
    /// An unsigned-byte IDX array.
    public struct Array: Sendable {
        public let dimensions: [Int]
        public let bytes: [UInt8]
    }

    /// Parses `data` (already decompressed) that came from `path`.
    public static func parse(_ data: Data, path: String) throws(DataError) -> Array {
        func fail(_ s: String) -> DataError { .file(path: path, problem: s) }
        guard data.count >= 4 else { throw fail("\(data.count) bytes is too short for an IDX header") }
        let b = [UInt8](data.prefix(4))
        guard b[0] == 0, b[1] == 0 else {
            throw fail(String(format: "wrong magic number 0x%02x%02x%02x%02x (IDX files start with 0x0000)", b[0], b[1], b[2], b[3]))
        }
        guard b[2] == 0x08 else {
            throw fail(String(format: "element type 0x%02x is not supported (expected 0x08, unsigned bytes)", b[2]))
        }
        let ndim = Int(b[3])
        guard ndim >= 1 && ndim <= 4 else { throw fail("\(ndim) dimensions; expected 1 (labels) to 3 (images)") }
        let headerSize = 4 + 4 * ndim
        guard data.count >= headerSize else { throw fail("truncated header: \(data.count) bytes, \(headerSize) needed for \(ndim) dimensions") }
        var dims: [Int] = []
        let start = data.startIndex
        for d in 0..<ndim {
            var v = 0
            for j in 0..<4 { v = v << 8 | Int(data[start + 4 + 4 * d + j]) }
            dims.append(v)
        }
        let (count, overflow) = dims.reduce((1, false)) { acc, d in
            let r = acc.0.multipliedReportingOverflow(by: d)
            return (r.partialValue, acc.1 || r.overflow)
        }
        guard !overflow, count <= FileReading.maximumBytes else { throw fail("dimensions \(dims) are implausibly large") }
        let expected = headerSize + count
        guard data.count >= expected else {
            throw fail("truncated: dimensions \(dims) need \(expected) bytes, the file has \(data.count)")
        }
        guard data.count == expected else {
            throw fail("\(data.count - expected) unexpected bytes after the \(dims) array")
        }
        return Array(dimensions: dims, bytes: [UInt8](data.suffix(from: start + headerSize)))
    }

    /// Reads an images file (N×H×W) and a labels file (N), checking that they agree and
    /// that every label is below `classes`.
    public static func load(images imagesPath: String, labels labelsPath: String, classes: Int, name: String,
                            classNames: [String]? = nil) throws(DataError) -> ImageSet {
        let images = try parse(try FileReading.read(imagesPath), path: imagesPath)
        let labels = try parse(try FileReading.read(labelsPath), path: labelsPath)
        guard images.dimensions.count == 3 else {
            throw .file(path: imagesPath, problem: "has dimensions \(images.dimensions); an images file is N×H×W")
        }
        guard labels.dimensions.count == 1 else {
            throw .file(path: labelsPath, problem: "has dimensions \(labels.dimensions); a labels file is one-dimensional")
        }
        guard images.dimensions[0] == labels.dimensions[0] else {
            throw .file(path: labelsPath, problem: "holds \(labels.dimensions[0]) labels but \(imagesPath) holds \(images.dimensions[0]) images")
        }
        guard images.dimensions[0] > 0 else { throw .file(path: imagesPath, problem: "holds no images") }
        if let bad = labels.bytes.firstIndex(where: { Int($0) >= classes }) {
            throw .file(path: labelsPath, problem: "label \(labels.bytes[bad]) at index \(bad) is outside 0..<\(classes)")
        }
        return try ImageSet(name: name, channels: 1, height: images.dimensions[1], width: images.dimensions[2], classes: classes,
                            pixels: images.bytes, labels: labels.bytes.map(Int32.init), classNames: classNames)
    }
}
