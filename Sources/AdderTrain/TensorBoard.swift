import AdderCore
import Foundation

/// Writes TensorBoard event files (`events.out.tfevents.*`: scalars and histograms) without
/// TensorFlow: TFRecord framing (u64 length, masked CRC-32C of the length, data, masked
/// CRC-32C of the data) around hand-encoded `Event` protocol buffers:
///
///     Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
///     Summary { repeated Value value = 1; }
///     Value   { string tag = 1; float simple_value = 2; HistogramProto histo = 5; }
///     HistogramProto { double min = 1; double max = 2; double num = 3; double sum = 4; double sum_squares = 5;
///                      repeated double bucket_limit = 6 [packed]; repeated double bucket = 7 [packed]; }
///
/// A histogram's bucket i counts the values up to bucket_limit[i] (TensorBoard takes the
/// first bucket's left edge from min).
public final class TensorBoardWriter {
    public let path: String
    private let fd: Int32

    /// Creates `events.out.tfevents.<time>.<host>` in `directory` and writes the version record.
    public init(directory: String) throws(RunError) {
        let host = ProcessInfo.processInfo.hostName.isEmpty ? "localhost" : ProcessInfo.processInfo.hostName
        let base = "\(directory)/events.out.tfevents.\(Int(Date().timeIntervalSince1970)).\(host)"
        var name = base
        var n = 1
        var fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0o644)
        while fd < 0 && errno == EEXIST && n < 10_000 {
            name = base + ".\(n)"; n += 1
            fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0o644)
        }
        guard fd >= 0 else { throw RunError("cannot create \(FileFailure.posix("open", name))") }
        path = name
        self.fd = fd
        try write(TensorBoardWriter.event(wallTime: Date().timeIntervalSince1970, step: 0, fileVersion: "brain.Event:2"))
    }

    /// One event holding `scalars` at `step`.
    public func add(step: Int, scalars: [(String, Double)], wallTime: Double = Date().timeIntervalSince1970) throws(RunError) {
        let values = scalars.filter { $0.1.isFinite }
        guard !values.isEmpty else { return }
        try write(TensorBoardWriter.event(wallTime: wallTime, step: step, scalars: values))
    }

    /// One event holding `histograms` at `step`.
    public func add(step: Int, histograms: [(String, Histogram)], wallTime: Double = Date().timeIntervalSince1970) throws(RunError) {
        guard !histograms.isEmpty else { return }
        try write(TensorBoardWriter.event(wallTime: wallTime, step: step, histograms: histograms))
    }

    private func write(_ payload: [UInt8]) throws(RunError) {
        try RunDirectory.appendWhole(Data(TensorBoardWriter.frame(payload)), fd: fd, path: path)
    }

    deinit { close(fd) }

    // MARK: encoding

    static func frame(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        let len = withUnsafeBytes(of: UInt64(data.count).littleEndian) { Array($0) }
        out += len
        out += withUnsafeBytes(of: maskedCRC(len).littleEndian) { Array($0) }
        out += data
        out += withUnsafeBytes(of: maskedCRC(data).littleEndian) { Array($0) }
        return out
    }

    static func event(wallTime: Double, step: Int, fileVersion: String? = nil, scalars: [(String, Double)] = []) -> [UInt8] {
        var e: [UInt8] = [0x09]
        e += withUnsafeBytes(of: wallTime.bitPattern.littleEndian) { Array($0) }
        e += [0x10] + varint(UInt64(bitPattern: Int64(step)))
        if let fileVersion { e += lengthDelimited(field: 3, Array(fileVersion.utf8)) }
        if !scalars.isEmpty {
            var summary: [UInt8] = []
            for (tag, v) in scalars {
                var value = lengthDelimited(field: 1, Array(tag.utf8))
                value += [0x15] + withUnsafeBytes(of: Float(v).bitPattern.littleEndian) { Array($0) }
                summary += lengthDelimited(field: 1, value)
            }
            e += lengthDelimited(field: 5, summary)
        }
        return e
    }

    static func event(wallTime: Double, step: Int, histograms: [(String, Histogram)]) -> [UInt8] {
        var e: [UInt8] = [0x09]
        e += withUnsafeBytes(of: wallTime.bitPattern.littleEndian) { Array($0) }
        e += [0x10] + varint(UInt64(bitPattern: Int64(step)))
        var summary: [UInt8] = []
        for (tag, h) in histograms {
            var value = lengthDelimited(field: 1, Array(tag.utf8))
            value += lengthDelimited(field: 5, histogramProto(h))
            summary += lengthDelimited(field: 1, value)
        }
        return e + lengthDelimited(field: 5, summary)
    }

    static func histogramProto(_ h: Histogram) -> [UInt8] {
        func double(_ field: Int, _ v: Double) -> [UInt8] { [UInt8(field << 3 | 1)] + littleEndian(v) }
        func littleEndian(_ v: Double) -> [UInt8] { withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } }
        var p = double(1, h.minimum) + double(2, h.maximum) + double(3, Double(h.count)) + double(4, h.sum) + double(5, h.sumOfSquares)
        p += lengthDelimited(field: 6, (1...h.counts.count).flatMap { littleEndian(h.edge($0)) })
        p += lengthDelimited(field: 7, h.counts.flatMap { littleEndian(Double($0)) })
        return p
    }

    static func varint(_ v: UInt64) -> [UInt8] {
        var v = v, out: [UInt8] = []
        repeat {
            var b = UInt8(v & 0x7F)
            v >>= 7
            if v != 0 { b |= 0x80 }
            out.append(b)
        } while v != 0
        return out
    }

    static func lengthDelimited(field: Int, _ bytes: [UInt8]) -> [UInt8] {
        [UInt8(field << 3 | 2)] + varint(UInt64(bytes.count)) + bytes
    }

    /// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78).
    static let crcTable: [UInt32] = (0..<256).map { i in
        var c = UInt32(i)
        for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
        return c
    }

    public static func crc32c(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes { c = crcTable[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }

    /// TFRecord's masking: rotate right by 15 and add a constant.
    public static func maskedCRC(_ bytes: [UInt8]) -> UInt32 {
        let c = crc32c(bytes)
        return ((c >> 15) | (c << 17)) &+ 0xA282_EAD8
    }
}
