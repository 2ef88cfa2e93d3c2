/// mbctl's version: written into every machine's `man8env.env` and sent as the User-Agent.
public enum MbctlVersion {
    public static let current = "0.1.0"
}
