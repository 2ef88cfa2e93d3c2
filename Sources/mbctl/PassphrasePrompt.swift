import Foundation

/// Asking the operator for a signing key's passphrase on the terminal, without echo.
enum PassphrasePrompt {
    /// The passphrase typed after `prompt` on the controlling terminal; nil when mbctl has no
    /// terminal (a script, a timer), where a passphrase file must be given instead.
    static func ask(_ prompt: String) -> String? {
        guard isatty(STDIN_FILENO) == 1, let typed = getpass(prompt) else { return nil }
        return String(cString: typed)
    }
}
