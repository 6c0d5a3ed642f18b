"""Glue on the simulator where a pipeline feels it: listings page as the database grows, two
writers that read-modify-write one table's parameters collide as on AWS, and every table says
when it was last updated."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError


@pytest.fixture
def glue(client):
    glue = client("glue")
    glue.create_database(DatabaseInput={"Name": "catalog"})
    return glue


def table_input(name: str, **parameters: str) -> dict:
    return {
        "Name": name,
        "Parameters": parameters,
        "StorageDescriptor": {"Columns": [{"Name": "id", "Type": "string"}], "Location": "s3://b/p/"},
    }


def test_get_tables_pages_at_most_100_tables_so_a_bigger_database_costs_more_calls(glue):
    for i in range(250):
        glue.create_table(DatabaseName="catalog", TableInput=table_input(f"t{i:03d}"))
    pages = list(glue.get_paginator("get_tables").paginate(DatabaseName="catalog"))
    assert [len(p["TableList"]) for p in pages] == [100, 100, 50]
    names = [t["Name"] for p in pages for t in p["TableList"]]
    assert names == sorted(names) and len(set(names)) == 250
    assert len(glue.get_tables(DatabaseName="catalog", MaxResults=7)["TableList"]) == 7


def test_get_tables_of_a_missing_database_is_entity_not_found(glue):
    with pytest.raises(ClientError) as raised:
        glue.get_tables(DatabaseName="nowhere")
    assert raised.value.response["Error"]["Code"] == "EntityNotFoundException"


def test_a_write_based_on_a_replaced_version_gets_concurrent_modification(glue):
    glue.create_table(DatabaseName="catalog", TableInput=table_input("shared", owner="nobody"))
    # two pipelines read the same version, change one parameter each, write back
    first = glue.get_table(DatabaseName="catalog", Name="shared")["Table"]
    second = glue.get_table(DatabaseName="catalog", Name="shared")["Table"]
    assert first["VersionId"] == second["VersionId"]
    glue.update_table(
        DatabaseName="catalog", VersionId=first["VersionId"], TableInput=table_input("shared", owner="pipeline-1")
    )
    with pytest.raises(ClientError) as raised:
        glue.update_table(
            DatabaseName="catalog", VersionId=second["VersionId"], TableInput=table_input("shared", owner="pipeline-2")
        )
    assert raised.value.response["Error"]["Code"] == "ConcurrentModificationException"
    # the loser reads again and its write, on the new version, goes through
    fresh = glue.get_table(DatabaseName="catalog", Name="shared")["Table"]
    assert fresh["Parameters"]["owner"] == "pipeline-1"
    glue.update_table(
        DatabaseName="catalog", VersionId=fresh["VersionId"], TableInput=table_input("shared", owner="pipeline-2")
    )
    assert glue.get_table(DatabaseName="catalog", Name="shared")["Table"]["Parameters"]["owner"] == "pipeline-2"
    # without a VersionId the last writer wins, as on AWS
    glue.update_table(DatabaseName="catalog", TableInput=table_input("shared", owner="anyone"))


def test_every_table_has_an_update_time_the_create_time_until_it_is_updated(simulator, client):
    simulator.reset(manual_time=True)  # AWS time moves only when the test advances it
    glue = client("glue")
    glue.create_database(DatabaseInput={"Name": "catalog"})
    glue.create_table(DatabaseName="catalog", TableInput=table_input("dated"))
    table = glue.get_table(DatabaseName="catalog", Name="dated")["Table"]
    assert table["UpdateTime"] == table["CreateTime"]  # Workbench reads UpdateTime of every table
    assert glue.get_tables(DatabaseName="catalog")["TableList"][0]["UpdateTime"] == table["CreateTime"]
    simulator.advance(90)
    glue.update_table(DatabaseName="catalog", TableInput=table_input("dated", owner="someone"))
    updated = glue.get_table(DatabaseName="catalog", Name="dated")["Table"]
    assert (updated["UpdateTime"] - updated["CreateTime"]).total_seconds() == pytest.approx(90, abs=0.01)
    assert updated["CreateTime"] == table["CreateTime"]


def test_get_table_of_a_missing_table_or_database_is_entity_not_found(glue):
    for database, name in (("catalog", "nothing"), ("nowhere", "nothing")):
        with pytest.raises(ClientError) as raised:
            glue.get_table(DatabaseName=database, Name=name)
        assert raised.value.response["Error"]["Code"] == "EntityNotFoundException"
