/// The parsed template: statements (`Node`) holding expressions (`Expression`), each with the
/// line it came from for error messages.
indirect enum Expression {
    case literal(Value)
    case name(String)
    case list([Expression])
    case dict([(Expression, Expression)])
    case attribute(Expression, String)
    case item(Expression, Expression)
    case slice(Expression, start: Expression?, stop: Expression?, step: Expression?)
    case call(Expression, [Expression], [(String, Expression)])
    case filter(Expression, name: String, [Expression], [(String, Expression)])
    case test(Expression, name: String, negated: Bool, [Expression])
    case unary(String, Expression)
    case binary(String, Expression, Expression)
    /// `a < b <= c`: Python's chained comparison.
    case compare(Expression, [(String, Expression)])
    case and(Expression, Expression)
    case or(Expression, Expression)
    case not(Expression)
    case conditional(then: Expression, condition: Expression, otherwise: Expression?)
}

/// What `set` and `for` assign to: a name, a namespace attribute, or a tuple of names.
enum Target {
    case name(String)
    case attribute(String, String)
    case tuple([String])
}

indirect enum Node {
    case text(String)
    case output(Expression, line: Int)
    case `if`([(condition: Expression, body: [Node])], otherwise: [Node], line: Int)
    case `for`(Target, iterable: Expression, filter: Expression?, body: [Node], otherwise: [Node], line: Int)
    case set(Target, Expression, line: Int)
    case setBlock(String, body: [Node], line: Int)
    case macro(name: String, parameters: [(String, Expression?)], body: [Node], line: Int)
    /// `{% generation %}`: Hugging Face's marker around what the assistant generates.
    case generation([Node])
    case `break`(line: Int)
    case `continue`(line: Int)
}
