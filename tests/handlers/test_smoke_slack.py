from handlers.install import SLACK


async def test_message_posted(slack):
    approval, message = await slack.submit_and_wait_posted(context={"why": "release 42"})
    assert message.channel == "C0APPROVALS"
    assert "release 42" in message.all_text
    locations = await slack.slack.messages.all(approval["id"])
    assert locations == {"C0APPROVALS": message.ts}
    assert SLACK in slack.running.client.app
