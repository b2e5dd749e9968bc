/// Progress of a job (a data build, an evaluation), as one stream of events for the CLI's
/// progress bars, the run log and the tests.
public enum ProgressEvent: Sendable {
    /// A stage starts: `total` units, `done` of them already in the job store.
    case stage(String, total: Int, done: Int)
    /// `count` more units are done.
    case advanced(Int)
    case note(String)
}
