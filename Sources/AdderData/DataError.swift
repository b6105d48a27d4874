/// A dataset problem, naming the file (or dataset) and what was expected.
public enum DataError: Error, Equatable, CustomStringConvertible {
    /// A file is unreadable, truncated, malformed or inconsistent.
    case file(path: String, problem: String)
    /// A dataset's files were not found; `looked` lists where, `hint` says how to get them.
    case missing(dataset: String, looked: [String], hint: String)
    /// A dataset name, option or value is not one AdderLab knows.
    case invalid(String)

    public var description: String {
        switch self {
        case let .file(path, problem): return "\(path): \(problem)"
        case let .missing(dataset, looked, hint):
            return "\(dataset) not found (looked in \(looked.joined(separator: ", "))). \(hint)"
        case let .invalid(s): return s
        }
    }
}
