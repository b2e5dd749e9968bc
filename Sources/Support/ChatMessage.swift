/// One turn of a conversation, with the role names chat templates use; the same type for chat
/// templates, OpenAI-compatible clients and servers, and training data.
public struct ChatMessage: Codable, Sendable, Equatable {
    public var role: String
    public var content: String
    public init(role: String, content: String) { self.role = role; self.content = content }
    public static func system(_ s: String) -> ChatMessage { .init(role: "system", content: s) }
    public static func user(_ s: String) -> ChatMessage { .init(role: "user", content: s) }
    public static func assistant(_ s: String) -> ChatMessage { .init(role: "assistant", content: s) }
}
