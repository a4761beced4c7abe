"""Deploy checks (issue 8): a package, so its conftest is `deploy.conftest`, not a second `conftest`."""
