/// A command's failure at run time (bad input found while working, not a usage mistake):
/// printed as "Error: <message>" with exit code 1, without the usage text ValidationError adds.
struct CommandError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}
