/// Runs `body` on every item with at most `width` calls in flight, and returns the results in
/// the items' order. `arrived` hears of each result as it comes (index, result), in the order
/// they finish, for progress and for storing work as soon as it exists. Endpoint teachers and
/// judges use it: a server batches the requests it holds at once, and one request at a time
/// leaves it idle between replies.
public func concurrentMap<Item: Sendable, Result: Sendable>(
    _ items: [Item], width: Int,
    arrived: (Int, Result) throws -> Void = { _, _ in },
    _ body: @escaping @Sendable (Item) async throws -> Result
) async throws -> [Result] {
    var out = [Result?](repeating: nil, count: items.count)
    try await withThrowingTaskGroup(of: (Int, Result).self) { group in
        var next = 0
        func submit() {
            let i = next, item = items[i]
            group.addTask { (i, try await body(item)) }
            next += 1
        }
        while next < min(max(1, width), items.count) { submit() }
        while let (i, r) = try await group.next() {
            out[i] = r
            try arrived(i, r)
            if next < items.count { submit() }
        }
    }
    return out.map { $0! }
}
