import AdderCore
import CYaml
import Foundation

/// Builds a `ConfigValue` straight from libyaml's event stream (the C parser that Yams
/// wraps), in one linear pass with bounded memory: experiment files and config.yaml
/// come from users, so the tree is refused — with the line — when it uses anchors or
/// aliases (a few lines of aliases can expand to gigabytes), nests deeper than
/// `maximumDepth`, holds more than `maximumNodes` values, repeats a key, or the text
/// is larger than `maximumBytes`.
enum YAMLEvents {
    static let maximumBytes = 1 << 20
    static let maximumDepth = 32
    static let maximumNodes = 100_000

    static func parse(_ yaml: String) throws(ConfigError) -> ConfigValue {
        var bytes = Array(yaml.utf8)
        guard bytes.count <= maximumBytes else {
            throw ConfigError(path: "", message: "is \(InputFile.byteCount(bytes.count)); experiment and config files are at most \(InputFile.byteCount(maximumBytes))")
        }
        if bytes.isEmpty { bytes = [0x0A] }  // libyaml wants a non-null pointer
        return try bytes.withUnsafeBufferPointer { (buffer) throws(ConfigError) -> ConfigValue in
            var builder = Builder()
            try builder.run(buffer)
            return builder.root ?? .map([])
        }
    }

    private struct Builder {
        var parser = yaml_parser_t()
        var root: ConfigValue?
        var nodes = 0

        /// One event, copied out of libyaml's struct (which is freed at once).
        enum Event {
            case streamEnd, documentStart, documentEnd
            case scalar(String, quoted: Bool, tag: String?)
            case sequenceStart(tag: String?), sequenceEnd
            case mappingStart(tag: String?), mappingEnd
        }

        mutating func run(_ buffer: UnsafeBufferPointer<UInt8>) throws(ConfigError) {
            guard yaml_parser_initialize(&parser) == 1 else { throw ConfigError(path: "", message: "cannot start the YAML parser (out of memory)") }
            defer { yaml_parser_delete(&parser) }
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            var documents = 0
            while true {
                let (event, line) = try next()
                switch event {
                case .streamEnd: return
                case .documentStart:
                    documents += 1
                    guard documents == 1 else { throw ConfigError(path: "", message: "holds more than one YAML document ('---'); expected one", line: line) }
                    let (first, firstLine) = try next()
                    root = try node(first, line: firstLine, path: "", depth: 0)
                case .documentEnd: continue
                default:
                    throw ConfigError(path: "", message: "is not valid YAML: unexpected content", line: line)
                }
            }
        }

        /// The next event and its 1-based line.
        mutating func next() throws(ConfigError) -> (Event, Int) {
            var e = yaml_event_t()
            guard yaml_parser_parse(&parser, &e) == 1 else {
                let problem = parser.problem.map { String(cString: $0) } ?? "syntax error"
                let context = parser.context.map { " " + String(cString: $0) } ?? ""
                let mark = parser.problem_mark
                if problem.hasPrefix("Maximum nesting level") {  // libyaml's own bound, met while scanning ahead
                    throw ConfigError(path: "", message: "nests more than \(maximumDepth) levels deep", line: Int(mark.line) + 1)
                }
                throw ConfigError(path: "", message: "is not valid YAML: \(problem)\(context) (column \(mark.column + 1))", line: Int(mark.line) + 1)
            }
            defer { yaml_event_delete(&e) }
            let line = Int(e.start_mark.line) + 1
            func text(_ p: UnsafeMutablePointer<yaml_char_t>?) -> String? { p.map { String(cString: $0) } }
            func refuseAnchor(_ a: UnsafeMutablePointer<yaml_char_t>?) throws(ConfigError) {
                if let a = text(a) {
                    throw ConfigError(path: "", message: "defines the YAML anchor '&\(a)'; experiment files do not support anchors and aliases (write the values out)", line: line)
                }
            }
            switch e.type {
            case YAML_STREAM_START_EVENT: return try next()
            case YAML_STREAM_END_EVENT: return (.streamEnd, line)
            case YAML_DOCUMENT_START_EVENT: return (.documentStart, line)
            case YAML_DOCUMENT_END_EVENT: return (.documentEnd, line)
            case YAML_ALIAS_EVENT:
                throw ConfigError(path: "", message: "uses the YAML alias '*\(text(e.data.alias.anchor) ?? "")'; experiment files do not support anchors and aliases (write the values out)", line: line)
            case YAML_SCALAR_EVENT:
                try refuseAnchor(e.data.scalar.anchor)
                let s = e.data.scalar
                let value = String(decoding: UnsafeBufferPointer(start: s.value, count: Int(s.length)), as: UTF8.self)
                let quoted = s.style != YAML_PLAIN_SCALAR_STYLE && s.style != YAML_ANY_SCALAR_STYLE
                return (.scalar(value, quoted: quoted, tag: text(s.tag)), line)
            case YAML_SEQUENCE_START_EVENT:
                try refuseAnchor(e.data.sequence_start.anchor)
                return (.sequenceStart(tag: text(e.data.sequence_start.tag)), line)
            case YAML_SEQUENCE_END_EVENT: return (.sequenceEnd, line)
            case YAML_MAPPING_START_EVENT:
                try refuseAnchor(e.data.mapping_start.anchor)
                return (.mappingStart(tag: text(e.data.mapping_start.tag)), line)
            case YAML_MAPPING_END_EVENT: return (.mappingEnd, line)
            default:
                throw ConfigError(path: "", message: "is not valid YAML (unexpected event)", line: line)
            }
        }

        mutating func node(_ event: Event, line: Int, path: String, depth: Int) throws(ConfigError) -> ConfigValue {
            nodes += 1
            guard nodes <= maximumNodes else {
                throw ConfigError(path: path, message: "the file holds more than \(maximumNodes) values; experiment files are small", line: line)
            }
            guard depth <= maximumDepth else {
                throw ConfigError(path: path, message: "nests more than \(maximumDepth) levels deep", line: line)
            }
            switch event {
            case let .scalar(s, quoted, tag):
                switch tag {
                case nil, "!": return quoted ? .string(s) : ConfigValue.scalar(s)
                case "tag:yaml.org,2002:str": return .string(s)
                case "tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null":
                    // An explicit tag must agree with the value: `!!bool 1` is not true.
                    let v = ConfigValue.scalar(s)
                    let ok: Bool
                    switch (tag!, v) {
                    case ("tag:yaml.org,2002:int", .int), ("tag:yaml.org,2002:float", .int), ("tag:yaml.org,2002:float", .double),
                         ("tag:yaml.org,2002:bool", .bool), ("tag:yaml.org,2002:null", .null): ok = true
                    default: ok = false
                    }
                    guard ok else { throw ConfigError(path: path, message: "is tagged \(tag!.replacingOccurrences(of: "tag:yaml.org,2002:", with: "!!")) but its value '\(s)' is not one", line: line) }
                    if case .int(let i) = v, tag == "tag:yaml.org,2002:float" { return .double(Double(i)) }
                    return v
                case let t?: throw ConfigError(path: path, message: "uses the YAML tag '\(t)', which experiment files do not support", line: line)
                }
            case let .sequenceStart(tag):
                try refuseTag(tag, path: path, line: line)
                var items: [ConfigValue] = []
                while true {
                    let (e, l) = try next()
                    if case .sequenceEnd = e { return .list(items) }
                    items.append(try node(e, line: l, path: "\(path)[\(items.count)]", depth: depth + 1))
                }
            case let .mappingStart(tag):
                try refuseTag(tag, path: path, line: line)
                var entries: [ConfigValue.Entry] = []
                var seen: [String: Int] = [:]
                while true {
                    let (k, keyLine) = try next()
                    if case .mappingEnd = k { return .map(entries) }
                    guard case let .scalar(key, _, _) = k else {
                        throw ConfigError(path: path, message: "has a key that is not a plain string", line: keyLine)
                    }
                    let full = path.isEmpty ? key : path + "." + key
                    if let first = seen[key] {
                        throw ConfigError(path: full, message: "appears twice (first at line \(first)); give each key once", line: keyLine)
                    }
                    seen[key] = keyLine
                    let (v, valueLine) = try next()
                    entries.append(ConfigValue.Entry(key: key, value: try node(v, line: valueLine, path: full, depth: depth + 1), line: keyLine))
                }
            default:
                throw ConfigError(path: path, message: "is not valid YAML: unexpected end of a block", line: line)
            }
        }

        func refuseTag(_ tag: String?, path: String, line: Int) throws(ConfigError) {
            guard let tag, tag != "tag:yaml.org,2002:seq", tag != "tag:yaml.org,2002:map" else { return }
            throw ConfigError(path: path, message: "uses the YAML tag '\(tag)', which experiment files do not support", line: line)
        }
    }
}
