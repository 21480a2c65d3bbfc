-- Mount rokkafs's WebDAV face in Finder (run with: osascript macos-finder.applescript URL).
--
-- What it does: asks Finder to connect to the server; Finder prompts for the credentials
-- (any user name, the API key as password) and shows the share in the sidebar.
-- What it needs: macOS; HTTPS for anything beyond localhost.
on run argv
	set serverURL to item 1 of argv
	tell application "Finder" to mount volume serverURL
end run
