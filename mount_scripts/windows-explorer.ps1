# Map rokkafs's WebDAV face as a network drive in Windows Explorer.
#
# What it does: maps drive R: to the share with `net use`, passing any user name and the API
# key as password, and keeps it across logons.
# What it needs: the WebClient service (started below) and HTTPS: Windows sends Basic auth
# only over HTTPS by default (registry value BasicAuthLevel, 1 = HTTPS only; 2 would allow
# plain http and is not recommended). Downloads over 50,000,000 bytes fail with 0x800700DF
# until FileSizeLimitInBytes is raised (up to 4294967295). Both values live in
# HKLM\SYSTEM\CurrentControlSet\Services\WebClient\Parameters; restart WebClient after a change.
# Usage: .\windows-explorer.ps1 -Url https://images.example.org/dav/ -ApiKey <key>
param(
    [Parameter(Mandatory = $true)][string]$Url,
    [Parameter(Mandatory = $true)][string]$ApiKey,
    [string]$Drive = "R:",
    [switch]$RaiseFileSizeLimit
)
$ErrorActionPreference = "Stop"
$parameters = "HKLM:\SYSTEM\CurrentControlSet\Services\WebClient\Parameters"
if ($RaiseFileSizeLimit) {
    Set-ItemProperty -Path $parameters -Name FileSizeLimitInBytes -Value 4294967295 -Type DWord
    Restart-Service WebClient
}
Start-Service WebClient
net use $Drive $Url /user:rokkafs $ApiKey /persistent:yes
