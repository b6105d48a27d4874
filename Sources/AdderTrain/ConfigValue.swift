import AdderCore
import Foundation

/// A YAML document as a plain tree, with map keys kept in file order and the line of
/// every value, so that validation errors can point at the key path and the line.
public indirect enum ConfigValue: Sendable, Equatable, CustomStringConvertible {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case list([ConfigValue])
    case map([Entry])

    public struct Entry: Sendable, Equatable {
        public var key: String
        public var value: ConfigValue
        public var line: Int?
    }

    /// Parses YAML text (see `YAMLEvents` for what is refused). Errors carry the line.
    public static func parse(yaml: String) throws(ConfigError) -> ConfigValue {
        try YAMLEvents.parse(yaml)
    }

    /// The value of an unquoted scalar: null, bool, integer, number, or string.
    public static func scalar(_ s: String) -> ConfigValue {
        switch s {
        case "", "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE", "yes", "on": return .bool(true)
        case "false", "False", "FALSE", "no", "off": return .bool(false)
        default: break
        }
        if let i = Int(s) { return .int(i) }
        // Only decimal notation counts as a number: Double("nan") and Double("inf") parse,
        // but a run named "nan" is a string.
        if s.range(of: #"^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$"#, options: .regularExpression) != nil,
           let d = Double(s) { return .double(d) }
        return .string(s)
    }

    /// The entry under `key` of a map.
    public subscript(key: String) -> ConfigValue? {
        if case .map(let e) = self { return e.first { $0.key == key }?.value }
        return nil
    }

    /// Sets the value at a dotted path ("optimizer.lr"), creating maps on the way.
    public mutating func set(_ path: String, to value: ConfigValue) {
        var parts = path.split(separator: ".").map(String.init)
        guard !parts.isEmpty else { self = value; return }
        let head = parts.removeFirst()
        var entries: [Entry]
        if case .map(let e) = self { entries = e } else { entries = [] }
        if let i = entries.firstIndex(where: { $0.key == head }) {
            if parts.isEmpty { entries[i].value = value; entries[i].line = nil } else { entries[i].value.set(parts.joined(separator: "."), to: value) }
        } else {
            var child = ConfigValue.map([])
            if parts.isEmpty { child = value } else { child.set(parts.joined(separator: "."), to: value) }
            entries.append(Entry(key: head, value: child, line: nil))
        }
        self = .map(entries)
    }

    /// The value without the entry at `key` (top level).
    public func removing(_ key: String) -> ConfigValue {
        if case .map(let e) = self { return .map(e.filter { $0.key != key }) }
        return self
    }

    public var description: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return String(b)
        case .int(let i): return String(i)
        case .double(let d): return String(d)
        case .string(let s): return s.contains(where: { " :#,[]{}".contains($0) }) || s.isEmpty ? "'\(s)'" : s
        case .list(let l): return "[" + l.map(\.description).joined(separator: ", ") + "]"
        case .map(let e): return "{" + e.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + "}"
        }
    }

    /// YAML text for this tree: block-style maps in order, scalars and flow-style lists
    /// (enough for a resolved configuration, which has no lists of maps).
    public func yaml(indent: Int = 0) -> String {
        let pad = String(repeating: " ", count: indent)
        switch self {
        case .map(let entries):
            return entries.map { e in
                switch e.value {
                case .map(let inner) where !inner.isEmpty: return "\(pad)\(e.key):\n" + e.value.yaml(indent: indent + 2)
                default: return "\(pad)\(e.key): \(e.value.yamlScalar)\n"
                }
            }.joined()
        default: return pad + yamlScalar + "\n"
        }
    }

    /// A string as YAML that reads back as the same string: plain when it is made of safe
    /// characters, single-quoted when it has only printable ones, double-quoted with
    /// escapes when it holds line breaks or characters YAML does not allow raw (controls,
    /// DEL, C1, U+2028/2029, BOM, U+FFFE/U+FFFF).
    static func yamlString(_ s: String) -> String {
        func safe(_ u: Unicode.Scalar, first: Bool) -> Bool {
            (u >= "a" && u <= "z") || (u >= "A" && u <= "Z") || (u >= "0" && u <= "9") || "._/+".unicodeScalars.contains(u)
                || (!first && (u == "-" || u == " "))
        }
        func raw(_ u: Unicode.Scalar) -> Bool {
            !(u.value < 0x20 || (0x7F...0x9F).contains(u.value) || u == "\u{2028}" || u == "\u{2029}" || u == "\u{FEFF}"
              || u.value == 0xFFFE || u.value == 0xFFFF)
        }
        let scalars = s.unicodeScalars
        if let first = scalars.first, safe(first, first: true), scalars.allSatisfy({ safe($0, first: false) }), s.last != " ",
           ConfigValue.scalar(s) == .string(s) {
            return s
        }
        if scalars.allSatisfy(raw) { return "'" + s.replacingOccurrences(of: "'", with: "''") + "'" }
        var out = "\""
        for u in scalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default: out += raw(u) ? String(u) : String(format: "\\u%04X", u.value)
            }
        }
        return out + "\""
    }

    private var yamlScalar: String {
        switch self {
        case .string(let s):
            return ConfigValue.yamlString(s)
        case .double(let d): return d == d.rounded() && abs(d) < 1e15 ? String(format: "%.1f", d) : String(d)
        case .map(let e) where e.isEmpty: return "{}"
        default: return description
        }
    }
}

/// A configuration error: the file, the key path, what is wrong and what is allowed.
public struct ConfigError: Error, Equatable, CustomStringConvertible {
    public var file: String?
    public var path: String
    public var message: String
    public var line: Int?

    public init(file: String? = nil, path: String, message: String, line: Int? = nil) {
        self.file = file; self.path = path; self.message = message; self.line = line
    }

    public var description: String {
        var s = file ?? "experiment"
        if let line { s += ":\(line)" }
        s += ": "
        s += path.isEmpty ? message : "\(path): \(message)"
        return s
    }
}
