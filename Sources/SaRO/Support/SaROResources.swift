import Support

/// This module's resources (policy, prompts, seeds, data), found by `ResourceBundle`.
enum SaROResources {
    static func path(_ relative: String) throws -> String {
        try ResourceBundle.locate("saro_SaRO.resources").path("Resources/" + relative)
    }
}
