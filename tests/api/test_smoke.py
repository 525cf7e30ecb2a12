def test_signup_verify_login_me(accounts_factory):
    email, c = accounts_factory.signup("researcher")
    c = accounts_factory.login(email, client=c)
    me = c.get("/api/auth/me")
    assert me.status_code == 200
    assert me.json()["email"] == email
