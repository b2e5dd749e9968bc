import Testing

extension Tag {
    /// Tests that run a real HTTP server on a loopback port (`scripts/test.sh --fast` leaves them out).
    @Tag static var process: Self
}
