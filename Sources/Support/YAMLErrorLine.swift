import Yams

/// The line a YAML syntax error points at (1-based), for "file:line: ..." messages; 0 when
/// the error carries no position.
public enum YAMLErrorLine {
    public static func of(_ error: Error) -> Int {
        guard let e = error as? YamlError else { return 0 }
        switch e {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _): return mark.line
        default: return 0
        }
    }
}
