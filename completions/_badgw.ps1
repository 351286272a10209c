
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'badgw' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'badgw'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'badgw' {
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colors: auto (a terminal, and NO_COLOR unset), always, never')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('diagnose', 'diagnose', [CompletionResultType]::ParameterValue, 'Find why nginx answers 502/504 for a site: ranked root causes with evidence and fixes')
            [CompletionResult]::new('route', 'route', [CompletionResultType]::ParameterValue, 'Show which server block, location and upstream serve a request, by nginx''s rules')
            [CompletionResult]::new('collect', 'collect', [CompletionResultType]::ParameterValue, 'Write the gathered facts as a JSON snapshot to stdout (analyze later with `diagnose --from`)')
            [CompletionResult]::new('explain-log', 'explain-log', [CompletionResultType]::ParameterValue, 'Classify every upstream failure in nginx error logs and summarize them')
            [CompletionResult]::new('explain', 'explain', [CompletionResultType]::ParameterValue, 'Print the documentation of a cause id (e.g. `badgw explain upstream-down`)')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'badgw;diagnose' {
            [CompletionResult]::new('--site', '--site', [CompletionResultType]::ParameterName, 'Host name the clients use, e.g. shop.example.com')
            [CompletionResult]::new('--path', '--path', [CompletionResultType]::ParameterName, 'Request path to route, e.g. /api/orders')
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'Port the client connects to nginx on (default: every port nginx listens on)')
            [CompletionResult]::new('--url', '--url', [CompletionResultType]::ParameterName, 'A full URL, standing for --site, --port and --path together')
            [CompletionResult]::new('--nginx-conf', '--nginx-conf', [CompletionResultType]::ParameterName, 'Main nginx configuration file (default: from the running master, `nginx -V`, or the usual paths)')
            [CompletionResult]::new('--nginx-dump', '--nginx-dump', [CompletionResultType]::ParameterName, 'Output of `nginx -T` to read the configuration from')
            [CompletionResult]::new('--from', '--from', [CompletionResultType]::ParameterName, 'Analyze a snapshot written by `badgw collect`; never touches this host')
            [CompletionResult]::new('--error-log', '--error-log', [CompletionResultType]::ParameterName, 'Error log to read (default: the one that serves the site); `-` reads standard input, e.g. `docker logs NAME 2>&1 | badgw diagnose … --error-log -` (runtime prefixes are stripped)')
            [CompletionResult]::new('--access-log', '--access-log', [CompletionResultType]::ParameterName, 'Access log to read (default: the one that serves the site)')
            [CompletionResult]::new('--kernel-log', '--kernel-log', [CompletionResultType]::ParameterName, 'Kernel log file (dmesg, kern.log) to search for OOM kills')
            [CompletionResult]::new('--journal', '--journal', [CompletionResultType]::ParameterName, 'Output of `journalctl -u UNIT` for the app')
            [CompletionResult]::new('--unit-status', '--unit-status', [CompletionResultType]::ParameterName, 'Output of `systemctl show UNIT` for the app')
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'How far back to read logs. Durations, here and in every option: a number and a unit, ms, s, m, h or d (500ms, 90s, 15m, 1.5h, 1d); a bare number is seconds')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Timeout of each probe and external command, e.g. 3s, 500ms')
            [CompletionResult]::new('--lb-idle-timeout', '--lb-idle-timeout', [CompletionResultType]::ParameterName, 'Idle timeout of the load balancer in front of nginx (AWS ALB: 60s by default), compared with nginx''s keepalive_timeout')
            [CompletionResult]::new('--deadline', '--deadline', [CompletionResultType]::ParameterName, 'Deadline of the whole run; the report then shows what was gathered and marks the rest `unavailable: deadline` (default: 5 × --timeout + 2s)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colors: auto (a terminal, and NO_COLOR unset), always, never')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the report as JSON (schema: docs/json.md)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Show every check, every evidence line and the timeouts table (the default report fits one screen; it is always complete when the diagnosis is incomplete)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Show every check, every evidence line and the timeouts table (the default report fits one screen; it is always complete when the diagnosis is incomplete)')
            [CompletionResult]::new('--fix', '--fix', [CompletionResultType]::ParameterName, 'After the report, offer the leading cause''s fixes one at a time (what runs, a diff of each edited file, [y/N]); back up, test, reload, then check the site answers again. Needs a terminal, or --yes')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'With --fix: apply without asking (for scripts)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'With --fix: print the plan (commands and diffs) and change nothing')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'badgw;route' {
            [CompletionResult]::new('--site', '--site', [CompletionResultType]::ParameterName, 'Host name the clients use, e.g. shop.example.com')
            [CompletionResult]::new('--path', '--path', [CompletionResultType]::ParameterName, 'Request path to route, e.g. /api/orders')
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'Port the client connects to nginx on (default: every port nginx listens on)')
            [CompletionResult]::new('--url', '--url', [CompletionResultType]::ParameterName, 'A full URL, standing for --site, --port and --path together')
            [CompletionResult]::new('--nginx-conf', '--nginx-conf', [CompletionResultType]::ParameterName, 'Main nginx configuration file (default: from the running master, `nginx -V`, or the usual paths)')
            [CompletionResult]::new('--nginx-dump', '--nginx-dump', [CompletionResultType]::ParameterName, 'Output of `nginx -T` to read the configuration from')
            [CompletionResult]::new('--from', '--from', [CompletionResultType]::ParameterName, 'Analyze a snapshot written by `badgw collect`; never touches this host')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colors: auto (a terminal, and NO_COLOR unset), always, never')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the route as JSON (schema: docs/json.md)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'badgw;collect' {
            [CompletionResult]::new('--site', '--site', [CompletionResultType]::ParameterName, 'Host name the clients use, e.g. shop.example.com')
            [CompletionResult]::new('--path', '--path', [CompletionResultType]::ParameterName, 'Request path to route, e.g. /api/orders')
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'Port the client connects to nginx on (default: every port nginx listens on)')
            [CompletionResult]::new('--url', '--url', [CompletionResultType]::ParameterName, 'A full URL, standing for --site, --port and --path together')
            [CompletionResult]::new('--nginx-conf', '--nginx-conf', [CompletionResultType]::ParameterName, 'Main nginx configuration file (default: from the running master, `nginx -V`, or the usual paths)')
            [CompletionResult]::new('--nginx-dump', '--nginx-dump', [CompletionResultType]::ParameterName, 'Output of `nginx -T` to read the configuration from')
            [CompletionResult]::new('--from', '--from', [CompletionResultType]::ParameterName, 'Analyze a snapshot written by `badgw collect`; never touches this host')
            [CompletionResult]::new('--error-log', '--error-log', [CompletionResultType]::ParameterName, 'Error log to read (default: the one that serves the site); `-` reads standard input, e.g. `docker logs NAME 2>&1 | badgw diagnose … --error-log -` (runtime prefixes are stripped)')
            [CompletionResult]::new('--access-log', '--access-log', [CompletionResultType]::ParameterName, 'Access log to read (default: the one that serves the site)')
            [CompletionResult]::new('--kernel-log', '--kernel-log', [CompletionResultType]::ParameterName, 'Kernel log file (dmesg, kern.log) to search for OOM kills')
            [CompletionResult]::new('--journal', '--journal', [CompletionResultType]::ParameterName, 'Output of `journalctl -u UNIT` for the app')
            [CompletionResult]::new('--unit-status', '--unit-status', [CompletionResultType]::ParameterName, 'Output of `systemctl show UNIT` for the app')
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'How far back to read logs. Durations, here and in every option: a number and a unit, ms, s, m, h or d (500ms, 90s, 15m, 1.5h, 1d); a bare number is seconds')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Timeout of each probe and external command, e.g. 3s, 500ms')
            [CompletionResult]::new('--lb-idle-timeout', '--lb-idle-timeout', [CompletionResultType]::ParameterName, 'Idle timeout of the load balancer in front of nginx (AWS ALB: 60s by default), compared with nginx''s keepalive_timeout')
            [CompletionResult]::new('--deadline', '--deadline', [CompletionResultType]::ParameterName, 'Deadline of the whole run; the report then shows what was gathered and marks the rest `unavailable: deadline` (default: 5 × --timeout + 2s)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colors: auto (a terminal, and NO_COLOR unset), always, never')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'badgw;explain-log' {
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'Only lines at or after this time: a duration back from the log''s end, or from now for gzip and stdin (500ms, 90s, 15m, 1.5h, 1d; a bare number is seconds), or a time in the log''s clock (2026-11-22T10:00, "2026-11-22 10:00:00", 2026/11/22 10:00:00, 2026-11-22)')
            [CompletionResult]::new('--until', '--until', [CompletionResultType]::ParameterName, 'Only lines before this time (same forms as --since)')
            [CompletionResult]::new('--top', '--top', [CompletionResultType]::ParameterName, 'How many upstreams and servers to list per category')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colors: auto (a terminal, and NO_COLOR unset), always, never')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the summary as JSON (schema: docs/json.md)')
            [CompletionResult]::new('--events', '--events', [CompletionResultType]::ParameterName, 'Also list every classified line (with its 1-based line number)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'badgw;explain' {
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colors: auto (a terminal, and NO_COLOR unset), always, never')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'badgw;completions' {
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colors: auto (a terminal, and NO_COLOR unset), always, never')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'badgw;help' {
            [CompletionResult]::new('diagnose', 'diagnose', [CompletionResultType]::ParameterValue, 'Find why nginx answers 502/504 for a site: ranked root causes with evidence and fixes')
            [CompletionResult]::new('route', 'route', [CompletionResultType]::ParameterValue, 'Show which server block, location and upstream serve a request, by nginx''s rules')
            [CompletionResult]::new('collect', 'collect', [CompletionResultType]::ParameterValue, 'Write the gathered facts as a JSON snapshot to stdout (analyze later with `diagnose --from`)')
            [CompletionResult]::new('explain-log', 'explain-log', [CompletionResultType]::ParameterValue, 'Classify every upstream failure in nginx error logs and summarize them')
            [CompletionResult]::new('explain', 'explain', [CompletionResultType]::ParameterValue, 'Print the documentation of a cause id (e.g. `badgw explain upstream-down`)')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'badgw;help;diagnose' {
            break
        }
        'badgw;help;route' {
            break
        }
        'badgw;help;collect' {
            break
        }
        'badgw;help;explain-log' {
            break
        }
        'badgw;help;explain' {
            break
        }
        'badgw;help;completions' {
            break
        }
        'badgw;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
