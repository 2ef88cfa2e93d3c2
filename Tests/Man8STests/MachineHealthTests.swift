import Foundation
import Testing
@testable import Man8S

/// Health checks: Docker's options and defaults, how a run of outcomes turns into starting,
/// healthy and unhealthy, what the unit files say, and what a check may not hold. The checks
/// running inside a machine under systemd are in SystemdLifecycleTests+Services.
@Suite(.timeLimit(.minutes(1))) struct MachineHealthTests {
    @Test func durationsAndDefaultsAreDockers() throws {
        #expect(try HealthCheck.parseDuration("30s", option: "--health-interval") == 30_000)
        #expect(try HealthCheck.parseDuration("1m30s", option: "--health-interval") == 90_000)
        #expect(try HealthCheck.parseDuration("1.5s", option: "--health-interval") == 1_500)
        #expect(try HealthCheck.parseDuration("500ms", option: "--health-interval") == 500)
        #expect(try HealthCheck.parseDuration("1h", option: "--health-interval") == 3_600_000)
        for bad in ["", "30", "s", "1.2.3s", "-1s", "1d", "25h", ".5s", "1s2", String(repeating: "1s", count: 40)] {
            #expect(throws: Man8SError.self, "\(bad)") { try HealthCheck.parseDuration(bad, option: "--health-interval") }
        }
        #expect(HealthCheck.durationText(90_000) == "1m30s" && HealthCheck.durationText(0) == "0s" && HealthCheck.durationText(1_500) == "1500ms")
        let check = try HealthCheck(command: "true")
        #expect(check.intervalMilliseconds == 30_000 && check.timeoutMilliseconds == 30_000 && check.startPeriodMilliseconds == 0 && check.retries == 3)
    }

    @Test func aCheckHoldsNoControlCharactersAndSaneTimings() throws {
        for bad in ["", "  ", "true\nreboot", "true\rx", "a\u{1B}[2J", "a\tb", String(repeating: "x", count: 5000)] {
            #expect(throws: Man8SError.self, "\(bad)") { try HealthCheck(command: bad) }
        }
        var change = SettingsChange()
        change.healthInterval = 1000
        #expect(throws: Man8SError.self) { try change.applied(to: MachineSettings()) }
        change.healthCommand = .set("wget -q -O /dev/null http://127.0.0.1/")
        let set = try change.applied(to: MachineSettings())
        #expect(set.health?.intervalMilliseconds == 1000 && set.health?.retries == 3)
        var zero = SettingsChange()
        zero.healthRetries = 0
        #expect(throws: Man8SError.self) { try zero.applied(to: set) }
        var fast = SettingsChange()
        fast.healthInterval = 10
        #expect(throws: Man8SError.self) { try fast.applied(to: set) }
        var restart = SettingsChange()
        restart.restartOnUnhealthy = true
        #expect(try restart.applied(to: set).health?.restartOnUnhealthy == true)
        var clear = SettingsChange()
        clear.healthCommand = .clear
        #expect(try clear.applied(to: set).health == nil)
        // A hand-edited record cannot slip a line into the check.
        let damaged =
            #"{"health": {"command": "true\nreboot", "intervalMilliseconds": 1000, "timeoutMilliseconds": 1000, "startPeriodMilliseconds": 0, "retries": 1}}"#
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(MachineSettings.self, from: Data(damaged.utf8)) }
    }

    @Test func outcomesTurnIntoStartingHealthyAndUnhealthyAsDockerCountsThem() {
        let pass = MachineHealth.Outcome(passed: true, exitCode: 0, timedOut: false, output: "")
        let fail = MachineHealth.Outcome(passed: false, exitCode: 1, timedOut: false, output: "down\n")
        var record = HealthRecord(status: .starting, failingStreak: 0, invocation: "a")
        // In the start period, failures do not count; a pass counts.
        record = MachineHealth.next(record, after: fail, inStartPeriod: true, retries: 2)
        #expect(record.status == .starting && record.failingStreak == 0 && record.output == "down\n")
        record = MachineHealth.next(record, after: pass, inStartPeriod: true, retries: 2)
        #expect(record.status == .healthy)
        record = MachineHealth.next(record, after: fail, inStartPeriod: false, retries: 2)
        #expect(record.status == .healthy && record.failingStreak == 1)
        record = MachineHealth.next(record, after: fail, inStartPeriod: false, retries: 2)
        #expect(record.status == .unhealthy && record.failingStreak == 2)
        record = MachineHealth.next(record, after: pass, inStartPeriod: false, retries: 2)
        #expect(record.status == .healthy && record.failingStreak == 0)
    }

    @Test func theMachinesUnitWantsItsWatcherWhichRunsThisMbctl() throws {
        let name = try MachineName("web")
        let recovery = RecoveryCommand(executable: "/usr/local/bin/mbctl", configurationFile: "/etc/mbctl 2.toml")
        var settings = MachineSettings()
        settings.health = try HealthCheck(command: "true")
        let dropIn = try MachineUnitDropIn.contents(name, recovery: recovery, settings: settings)
        #expect(dropIn.contains("[Unit]\nWants=mbctl-health@web.service\n"))
        #expect(try !MachineUnitDropIn.contents(name, recovery: recovery, settings: MachineSettings()).contains("Wants="))
        let watcher = try MachineUnitDropIn.healthWatcher(recovery)
        #expect(watcher.contains("ExecStart=/usr/local/bin/mbctl machines health %i --watch --config \"/etc/mbctl 2.toml\"\n"))
        #expect(watcher.contains("BindsTo=systemd-nspawn@%i.service\n"))
    }

    @Test func whatAMachinePrintsIsEscapedForTheJournal() {
        #expect(Journal.escaped("a\nb\u{1B}[2J\\") == "a\\nb\\x1b[2J\\\\")
    }
}
