import Support

/// This module's resources (the built-in suites), found by `ResourceBundle`.
enum EvaluationResources {
    static func path(_ relative: String) throws -> String {
        try ResourceBundle.locate("saro_Evaluation.resources").path("Resources/" + relative)
    }
}
