import AdderCore
import Foundation

/// Errors reading or writing a safetensors file; each names the file and what is wrong.
public struct SafetensorsError: Error, CustomStringConvertible, Equatable {
    public let path: String
    public let problem: String
    public var description: String { "\(path): \(problem)" }
}

/// The safetensors format: an 8-byte little-endian header length, a JSON header
/// `{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {…}}`
/// padded with spaces to a multiple of 8, then the raw little-endian data. PyTorch
/// users load it with `safetensors.torch.load_file`. AdderLab writes F32 only.
public enum Safetensors {
    /// Writes `tensors` (in the given order) and string `metadata` atomically: a
    /// temporary file in the same directory is written, fsynced and renamed over `url`.
    public static func write(_ tensors: [(String, Tensor)], metadata: [String: String] = [:], to url: URL) throws(SafetensorsError) {
        var header: [String: Any] = [:]
        var offset = 0
        var seen = Set<String>()
        for (name, t) in tensors {
            guard !name.isEmpty, name != "__metadata__", seen.insert(name).inserted else {
                throw SafetensorsError(path: url.path, problem: "tensor name '\(name)' is empty, reserved or repeated")
            }
            header[name] = ["dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + t.count * 4]]
            offset += t.count * 4
        }
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var json: Data
        do { json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]) } catch {
            throw SafetensorsError(path: url.path, problem: "cannot encode header: \(error)")
        }
        while json.count % 8 != 0 { json.append(0x20) }
        var out = Data(capacity: 8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(json)
        for (_, t) in tensors {
            t.withUnsafeBufferPointer { b in
                #if _endian(big)
                for v in b { withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
                #else
                out.append(UnsafeBufferPointer(start: UnsafeRawPointer(b.baseAddress!).assumingMemoryBound(to: UInt8.self), count: b.count * 4))
                #endif
            }
        }
        do { try AtomicFile.write(out, to: url) } catch {
            throw SafetensorsError(path: url.path, problem: "cannot write: \(error)")
        }
    }

    /// The checked header of a file: where each tensor's data is, and the metadata.
    struct Header {
        var body: Int, bodyCount: Int
        var entries: [(name: String, shape: [Int], count: Int, begin: Int)]
        var metadata: [String: String]
    }

    /// Reads every tensor and the metadata, validating the header against the file:
    /// sizes, dtypes, shapes, and that data offsets lie inside the file and match the shapes.
    public static func read(from url: URL) throws(SafetensorsError) -> (tensors: [String: Tensor], metadata: [String: String]) {
        let path = url.path
        func fail(_ s: String) -> SafetensorsError { SafetensorsError(path: path, problem: s) }
        let h = try header(path)
        let data: Data
        do { data = try InputFile.read(path, from: h.body, atMost: h.bodyCount) } catch { throw fail(error.problem) }
        guard data.count == h.bodyCount else { throw fail("changed while it was read") }
        var tensors: [String: Tensor] = [:]
        for e in h.entries {
            var t = Tensor(uninitializedShape: e.shape)
            guard e.count > 0 else { tensors[e.name] = t; continue }
            t.withUnsafeMutableBufferPointer { dst in
                data.withUnsafeBytes { raw in
                    let src = raw.baseAddress! + e.begin
                    for i in 0..<e.count { dst[i] = Float(bitPattern: UInt32(littleEndian: (src + i * 4).loadUnaligned(as: UInt32.self))) }
                }
            }
            tensors[e.name] = t
        }
        return (tensors, h.metadata)
    }

    /// The metadata alone, after the same checks of the header, without reading the tensors.
    public static func readMetadata(from url: URL) throws(SafetensorsError) -> [String: String] {
        try header(url.path).metadata
    }

    static func header(_ path: String) throws(SafetensorsError) -> Header {
        func fail(_ s: String) -> SafetensorsError { SafetensorsError(path: path, problem: s) }
        // The header is read and checked against the file's size before the data is read.
        let size: Int, head: Data
        do throws(FileFailure) {
            size = try InputFile.size(path)
            guard size <= maximumFileBytes else {
                throw FileFailure(path: path, problem: "is \(InputFile.byteCount(size)), more than the limit of \(InputFile.byteCount(maximumFileBytes))")
            }
            head = try InputFile.read(path, from: 0, atMost: 8)
        } catch { throw fail(error.problem) }
        guard head.count >= 8 else { throw fail("file is \(head.count) bytes, shorter than the 8-byte header length") }
        let n = head.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard size >= 8, n >= 2, n <= UInt64(size - 8), n <= 100_000_000 else {
            throw fail("header length \(n) does not fit a file of \(size) bytes (truncated or not safetensors)")
        }
        let headerData: Data
        do { headerData = try InputFile.read(path, from: 8, atMost: Int(n)) } catch { throw fail(error.problem) }
        guard headerData.count == Int(n), let object = try? JSONSerialization.jsonObject(with: headerData), let header = object as? [String: Any] else {
            throw fail("header is not a JSON object")
        }
        let body = 8 + Int(n), bodyCount = size - body
        var metadata: [String: String] = [:]
        var entries: [(name: String, shape: [Int], count: Int, begin: Int)] = []
        var ranges: [(Int, Int, String)] = []
        for (name, value) in header {
            if name == "__metadata__" {
                guard let m = value as? [String: String] else { throw fail("__metadata__ must map strings to strings") }
                metadata = m
                continue
            }
            guard let entry = value as? [String: Any] else { throw fail("entry '\(name)' is not an object") }
            guard let dtype = entry["dtype"] as? String else { throw fail("entry '\(name)' has no dtype") }
            guard dtype == "F32" else { throw fail("tensor '\(name)' has dtype \(dtype); AdderLab reads F32 only") }
            guard let shapeAny = entry["shape"] as? [Any], let shape = intArray(shapeAny), shape.allSatisfy({ $0 >= 0 }) else {
                throw fail("tensor '\(name)' has no valid shape (a list of non-negative integers)")
            }
            guard let offAny = entry["data_offsets"] as? [Any], let off = intArray(offAny), off.count == 2 else {
                throw fail("tensor '\(name)' has no valid data_offsets ([begin, end])")
            }
            guard shape.count <= 8, let count = checkedElementCount(shape), count <= Int.max / 4 else {
                throw fail("tensor '\(name)' has shape \(shape), whose size overflows (at most 8 dimensions, fewer than 2^61 elements)")
            }
            guard off[0] >= 0, off[1] >= off[0], off[1] <= bodyCount else {
                throw fail("tensor '\(name)' data_offsets \(off) fall outside the \(bodyCount) data bytes (truncated file?)")
            }
            guard off[1] - off[0] == count * 4 else {
                throw fail("tensor '\(name)' of shape \(shape) needs \(count * 4) bytes but data_offsets \(off) hold \(off[1] - off[0])")
            }
            ranges.append((off[0], off[1], name))
            entries.append((name, shape, count, off[0]))
        }
        ranges.sort { $0.0 < $1.0 }
        for (a, b) in zip(ranges, ranges.dropFirst()) where b.0 < a.1 {
            throw fail("tensors '\(a.2)' and '\(b.2)' overlap in the data section")
        }
        let end = ranges.last?.1 ?? 0
        guard end == bodyCount else {
            throw fail("\(bodyCount - end) bytes follow the last tensor's data (the header accounts for \(end) of \(bodyCount))")
        }
        return Header(body: body, bodyCount: bodyCount, entries: entries, metadata: metadata)
    }

    /// Checkpoints larger than this are refused before reading (ResNet-50 with momentum is ~200 MB).
    public static let maximumFileBytes = 1 << 30

    /// The product of `shape`, or nil when it overflows.
    static func checkedElementCount(_ shape: [Int]) -> Int? {
        var n = 1
        for d in shape {
            let (p, overflow) = n.multipliedReportingOverflow(by: d)
            if overflow { return nil }
            n = p
        }
        return n
    }

    private static func intArray(_ a: [Any]) -> [Int]? {
        var out: [Int] = []
        for v in a {
            guard let num = v as? NSNumber, let i = Int(exactly: num.doubleValue) else { return nil }
            out.append(i)
        }
        return out
    }
}
