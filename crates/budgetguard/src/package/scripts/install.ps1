# Installs a BudgetGuard TechOps package with only Docker and Docker Compose,
# on a Windows workstation without budgetguard-techops. Unzip the package,
# then run from its folder:
#
#     powershell -ExecutionPolicy Bypass -File install\install.ps1 [-Start]
#
# It checks every file against SHA256SUMS, loads the images, writes each
# node's Compose file to the install folder ($env:BUDGETGUARD_INSTALL_DIR, by
# default %APPDATA%\BudgetGuard\budgetguard-techops\data) and creates the
# containers; -Start also starts them.
param([switch]$Start)
$ErrorActionPreference = "Stop"
Set-Location (Join-Path $PSScriptRoot "..")

function Fail($message) { Write-Error "error: $message"; exit 1 }

$installDir = $env:BUDGETGUARD_INSTALL_DIR
if (-not $installDir) { $installDir = Join-Path $env:APPDATA "BudgetGuard\budgetguard-techops\data" }

if (-not (Get-Command docker -ErrorAction SilentlyContinue)) { Fail "docker not found; install Docker Desktop first" }
docker info *> $null
if ($LASTEXITCODE -ne 0) { Fail "the Docker engine does not answer; start Docker Desktop and retry" }
docker compose version *> $null
if ($LASTEXITCODE -eq 0) { $compose = @("docker", "compose") }
elseif (Get-Command docker-compose -ErrorAction SilentlyContinue) { $compose = @("docker-compose") }
else { Fail "Docker Compose not found; install Docker Desktop" }

Write-Host "Verifying the package..."
foreach ($line in Get-Content SHA256SUMS) {
  $expected, $name = $line -split "  ", 2
  $actual = (Get-FileHash -Algorithm SHA256 -LiteralPath $name).Hash.ToLower()
  if ($actual -ne $expected) { Fail "$name is damaged; copy the package again" }
}

if (Test-Path install\models.sh) {
  Fail "this package carries model caches, which this script does not write; install it with budgetguard-techops, or with sh install/install.sh in WSL"
}

Write-Host "Loading images..."
tar -C images -cf - . | docker load
if ($LASTEXITCODE -ne 0) {
  if (Test-Path install\base.txt) {
    $baseId, $baseFile = (Get-Content install\base.txt -TotalCount 1) -split " ", 2
    Fail "this update package needs its base package ($baseFile, package id $($baseId.Substring(0, 12))) installed first; nothing was changed: install that package, then this one"
  }
  Fail "docker load failed"
}

foreach ($dir in Get-ChildItem -Directory compose) {
  $service = $dir.Name
  $target = Join-Path $installDir "compose\$service"
  New-Item -ItemType Directory -Force -Path (Join-Path $target "cache") | Out-Null
  Copy-Item (Join-Path $dir.FullName "docker-compose.yml") (Join-Path $target "docker-compose.yml")
  $file = Join-Path $target "docker-compose.yml"
  $rest = if ($Start) { @("up", "-d") } else { @("up", "--no-start") }
  & $compose[0] ($compose[1..9] + @("-p", "budgetguard-$service", "-f", $file) + $rest)
  if ($LASTEXITCODE -ne 0) { Fail "Compose could not create $service" }
  Write-Host "Installed ${service}: $file"
}
