import Foundation

/// A small, strict JSON reader for the lines of metrics.jsonl: objects, arrays, strings,
/// numbers, true, false, null, nesting at most `maximumDepth` deep. It reads the flat
/// records AdderLab writes ~10× faster than JSONSerialization (which parses every number
/// through Decimal), and it is total: any input gives a value or nil.
enum JSONLine {
    indirect enum Value {
        case number(Double), string(String), bool(Bool), null
        case array([Value]), object([String: Value])

        subscript(key: String) -> Value? {
            if case .object(let o) = self { return o[key] }
            return nil
        }
        var double: Double? { if case .number(let d) = self { return d }; return nil }
        var string: String? { if case .string(let s) = self { return s }; return nil }
        var array: [Value]? { if case .array(let a) = self { return a }; return nil }
        var isNull: Bool { if case .null = self { return true }; return false }
    }

    static let maximumDepth = 16

    /// The value on `line`, or nil unless the whole line is one JSON value.
    static func parse(_ line: Data) -> Value? {
        line.withUnsafeBytes { raw -> Value? in
            var p = Parser(bytes: raw.bindMemory(to: UInt8.self))
            guard let v = p.value(depth: 0) else { return nil }
            p.skipSpace()
            return p.at == p.bytes.count ? v : nil
        }
    }

    private struct Parser {
        let bytes: UnsafeBufferPointer<UInt8>
        var at = 0

        mutating func skipSpace() {
            while at < bytes.count, bytes[at] == 0x20 || bytes[at] == 0x09 || bytes[at] == 0x0D || bytes[at] == 0x0A { at += 1 }
        }

        mutating func literal(_ word: StaticString, _ v: Value) -> Value? {
            let n = word.utf8CodeUnitCount
            guard at + n <= bytes.count else { return nil }
            for i in 0..<n where bytes[at + i] != word.utf8Start[i] { return nil }
            at += n
            return v
        }

        mutating func value(depth: Int) -> Value? {
            guard depth <= JSONLine.maximumDepth else { return nil }
            skipSpace()
            guard at < bytes.count else { return nil }
            switch bytes[at] {
            case UInt8(ascii: "{"):
                at += 1
                var o: [String: Value] = [:]
                skipSpace()
                if at < bytes.count, bytes[at] == UInt8(ascii: "}") { at += 1; return .object(o) }
                while true {
                    skipSpace()
                    guard let k = string() else { return nil }
                    skipSpace()
                    guard at < bytes.count, bytes[at] == UInt8(ascii: ":") else { return nil }
                    at += 1
                    guard let v = value(depth: depth + 1) else { return nil }
                    o[k] = v
                    skipSpace()
                    guard at < bytes.count else { return nil }
                    if bytes[at] == UInt8(ascii: ",") { at += 1; continue }
                    if bytes[at] == UInt8(ascii: "}") { at += 1; return .object(o) }
                    return nil
                }
            case UInt8(ascii: "["):
                at += 1
                var a: [Value] = []
                skipSpace()
                if at < bytes.count, bytes[at] == UInt8(ascii: "]") { at += 1; return .array(a) }
                while true {
                    guard let v = value(depth: depth + 1) else { return nil }
                    a.append(v)
                    skipSpace()
                    guard at < bytes.count else { return nil }
                    if bytes[at] == UInt8(ascii: ",") { at += 1; continue }
                    if bytes[at] == UInt8(ascii: "]") { at += 1; return .array(a) }
                    return nil
                }
            case UInt8(ascii: "\""): return string().map(Value.string)
            case UInt8(ascii: "t"): return literal("true", .bool(true))
            case UInt8(ascii: "f"): return literal("false", .bool(false))
            case UInt8(ascii: "n"): return literal("null", .null)
            default: return number()
            }
        }

        /// A JSON number (RFC 8259 grammar), converted by strtod; out-of-range magnitudes
        /// become ±inf or 0 as strtod gives them, for the caller's range checks.
        mutating func number() -> Value? {
            let start = at
            func digits() -> Int { let s = at; while at < bytes.count, bytes[at] >= 0x30, bytes[at] <= 0x39 { at += 1 }; return at - s }
            if at < bytes.count, bytes[at] == UInt8(ascii: "-") { at += 1 }
            let leadingZero = at < bytes.count && bytes[at] == UInt8(ascii: "0")
            let whole = digits()
            guard whole > 0, !(leadingZero && whole > 1) else { return nil }  // no "01"
            if at < bytes.count, bytes[at] == UInt8(ascii: ".") { at += 1; guard digits() > 0 else { return nil } }
            if at < bytes.count, bytes[at] | 0x20 == UInt8(ascii: "e") {
                at += 1
                if at < bytes.count, bytes[at] == UInt8(ascii: "+") || bytes[at] == UInt8(ascii: "-") { at += 1 }
                guard digits() > 0 else { return nil }
            }
            guard at - start < 64 else { return nil }
            var buffer = [CChar](repeating: 0, count: at - start + 1)
            for i in start..<at { buffer[i - start] = CChar(bitPattern: bytes[i]) }
            return .number(strtod(buffer, nil))
        }

        mutating func string() -> String? {
            guard at < bytes.count, bytes[at] == UInt8(ascii: "\"") else { return nil }
            at += 1
            // Fast path: plain ASCII without escapes, as AdderLab writes keys and names.
            var end = at
            while end < bytes.count, bytes[end] != UInt8(ascii: "\""), bytes[end] != UInt8(ascii: "\\"), bytes[end] >= 0x20, bytes[end] < 0x80 { end += 1 }
            if end < bytes.count, bytes[end] == UInt8(ascii: "\"") {
                let s = String(decoding: UnsafeBufferPointer(rebasing: bytes[at..<end]), as: UTF8.self)
                at = end + 1
                return s
            }
            var out: [UInt8] = []
            while at < bytes.count {
                let c = bytes[at]
                at += 1
                switch c {
                case UInt8(ascii: "\""):
                    // Invalid UTF-8 is refused, not repaired.
                    return String(validating: out, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    guard at < bytes.count else { return nil }
                    let e = bytes[at]
                    at += 1
                    switch e {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "u"):
                        guard var u = hex4() else { return nil }
                        if (0xD800..<0xDC00).contains(u), at + 6 <= bytes.count, bytes[at] == UInt8(ascii: "\\"), bytes[at + 1] == UInt8(ascii: "u") {
                            at += 2
                            guard let low = hex4(), (0xDC00..<0xE000).contains(low) else { return nil }
                            u = 0x10000 + ((u - 0xD800) << 10) + (low - 0xDC00)
                        }
                        guard let scalar = Unicode.Scalar(u) else { return nil }
                        out.append(contentsOf: Array(String(Character(scalar)).utf8))
                    default: return nil
                    }
                default:
                    guard c >= 0x20 else { return nil }
                    out.append(c)
                }
            }
            return nil
        }

        mutating func hex4() -> UInt32? {
            guard at + 4 <= bytes.count else { return nil }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = bytes[at]
                at += 1
                let d: UInt8
                switch c {
                case 0x30...0x39: d = c - 0x30
                case 0x41...0x46: d = c - 0x41 + 10
                case 0x61...0x66: d = c - 0x61 + 10
                default: return nil
                }
                v = v << 4 | UInt32(d)
            }
            return v
        }
    }
}
