def test_landing_page_of_a_tenant(client, make_tenant):
    make_tenant("neoma", enable=("neoma",))
    response = client.get("/t/neoma/", headers={"Accept-Language": "en"})
    assert response.status_code == 200
    assert b"NEOMA Business School" in response.data
